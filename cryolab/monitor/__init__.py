"""The night away from the lab: a read-only web page of run files and notifications, both fed by
the run file (SWMR), never by the acquisition process, so a hung or killed run is still seen.

``watch`` reads the files, ``alerts`` turns what changed into notices, ``notify`` delivers them
(apprise), ``web`` serves the page, ``command`` is ``cryolab monitor``, ``companion`` starts it
beside a run.
"""

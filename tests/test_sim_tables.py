"""The table machinery every simulated instrument shares (cryolab/sim/protocol.py): argument
parsers, rows, SCPI keyword matching, and errors that never become replies."""

import threading

import pytest

from cryolab.sim.protocol import (
    Row,
    ScpiTable,
    Stored,
    Table,
    TableDevice,
    channel,
    channels,
    engineering,
    float_in,
    four_letter,
    int_in,
    letters,
    optional,
    plain_decimal,
    rest,
    six_digits,
)


def test_integer_parsers_take_every_float_spelling_of_an_integer_and_nothing_else():
    index = int_in(0, 19)
    for text, value in [("4", 4), ("4.000000", 4), ("001", 1), ("+1E1", 10), (" 7 ", 7)]:
        assert index(text) == value
    for bad in ["1.5", "20", "-1", "nan", "inf", "x", ""]:
        with pytest.raises(ValueError):
            index(bad)


def test_float_parsers_refuse_what_is_out_of_range_or_not_finite():
    level = float_in(0.004, 5.0)
    assert level(".5E1") == 5.0 and level("+000.100") == 0.1
    for bad in ["5.001", "0", "nan", "inf"]:
        with pytest.raises(ValueError):
            level(bad)


def test_channels_by_letter_or_number_and_the_word_for_all():
    names = ("A", "1", "2", "3")
    assert [channel(names)(t) for t in ("a", "01", "2.0", " 3")] == ["A", "1", "2", "3"]
    with pytest.raises(ValueError):
        channel(names)("4")
    assert channels(names, everything="0")("0") == names
    assert channels(names, everything="0")("2") == ("2",)


def test_reply_formats_look_like_the_hardware():
    assert six_digits(3.33) == "3.33" and six_digits(1.2345678e-6) == "1.23457e-06"
    assert engineering(0.012034) == "+012.034E-03" and engineering(0.0) == "+000.000E+00"
    assert engineering(999.9996) == "+001.000E+03"  # rounding carries into the exponent
    assert plain_decimal(0.03) == "0.03" and plain_decimal(1.0) == "1.0"


class Toy(TableDevice):
    """A made-up instrument: what a new twin writes."""

    role = "lockin"
    idn = "TOY"

    def __init__(self):
        super().__init__(world=type("W", (), {"lock": threading.RLock()})(), name="toy")
        self.stored = self.table.defaults()
        self.errors = []
        self.level = 1.0

    def command_error(self, query, unknown):
        self.errors.append(("unknown" if unknown else "invalid", query))

    table = Table(grammar=four_letter, rows=[
        Row("*IDN", get=lambda d: d.idn),
        Row("LEVL", get=lambda d: six_digits(d.level), set=float_in(0.0, 5.0),
            apply=lambda d, v: setattr(d, "level", v)),
        Row("SUMS", get=lambda d, xs: str(sum(xs)), get_args=rest(int_in(0, 9), 2, 3)),
        Row("PICK", get=lambda d, i, scale: six_digits(i * scale),
            get_args=(int_in(1, 4), optional(float_in(0, 10), 1.0))),
        Stored("MODE", 2, set=int_in(0, 3)),
    ])


def test_a_table_answers_each_query_once_and_sets_silently():
    toy = Toy()
    assert toy.handle_line("LEVL 2.5;LEVL?;*IDN?") == ["2.5", "TOY"]
    assert toy.handle_line("LEVL0.5") == []  # no space needed after a four-letter mnemonic
    assert toy.handle_line("SUMS? 1,2,3") == ["6"]
    assert toy.handle_line("PICK? 2;PICK?3,2") == ["2", "6"]
    assert toy.handle_line("MODE?;MODE 3;MODE?") == ["2", "3"]
    assert toy.errors == []


def test_unknown_commands_and_bad_arguments_go_to_the_error_hook_not_the_reply():
    toy = Toy()
    assert toy.handle_line("LEVL 9;LEVL?;NOPE?;SUMS? 1;PICK?;BAD") == ["1"]
    assert toy.errors == [("invalid", False), ("unknown", True), ("invalid", True),
                          ("invalid", True), ("unknown", False)]


def test_a_table_refuses_a_command_listed_twice():
    with pytest.raises(ValueError, match="FREQ is in the table twice"):
        Table([Row("FREQ", apply=lambda d, f: None, set=float_in(0, 1)),
               Row("FREQ", apply=lambda d, f: None, set=float_in(0, 1))], four_letter)


def test_scpi_rows_match_short_and_long_forms_and_pass_numeric_nodes():
    table = ScpiTable([
        Row("CONFigure:FIELD:TARGet", apply=lambda d, v: None, set=float_in(-1, 1)),
        Row("RAMP:RATE:FIELD:#", get=lambda d, n: f"segment {n}", get_args=int_in(1, 10)),
        Row("CURRent:LIMit", get=lambda d: "1.0"),
    ])
    for header in ("CONF:FIELD:TARG", "CONFIGURE:FIELD:TARGET", "CONFIG:FIELD:TARGE"):
        assert table.lookup(header, False) is not None, header
    assert table.lookup("CON:FIELD:TARG", False) is None  # shorter than the short form
    assert table.lookup("CONF:FIELD:TARG", True) is None  # no query form
    side, numbers = table.lookup("RAMP:RATE:FIELD:3", True)
    assert numbers == ("3",) and side(None, [*numbers]) == "segment 3"
    assert table.lookup("CURR:LIMIT", True) is not None  # QCoDeS's spelling
    for i in range(2 * ScpiTable.MEMO_LIMIT):  # garbage headers do not grow the memo forever
        assert table.lookup(f"JUNK{i}", True) is None
    assert len(table._memo) <= ScpiTable.MEMO_LIMIT


def test_header_grammars():
    assert four_letter("OUTP?1") == ("OUTP", True, "1")
    assert four_letter("freq 3.33") == ("FREQ", False, "3.33")
    assert four_letter("*ID") is None
    assert letters("KRDG? 1") == ("KRDG", True, "1")
    assert letters('INNAME 3,"a;b"') == ("INNAME", False, '3,"a;b"')
    assert letters("123") is None

// cryolab monitor: asks the server for news every second and redraws; reads only.
// The plots are drawn on <canvas> by the small plot() below: no library, nothing from outside.
"use strict";
(function () {
  const body = document.body;
  const RUN = body.dataset.run;
  const POLL_MS = Number(body.dataset.pollMs) || 1000;
  const $ = (id) => document.getElementById(id);
  const COLORS = ["#285ea8", "#b3261e", "#1f7a3a", "#7b3fa0", "#b36b00", "#00838f"];
  let version = -1;
  let view = null;

  // ------------------------------------------------------------------ formatting
  const pad = (n) => String(n).padStart(2, "0");
  function clock(s) {
    if (s == null) return "—";
    const d = new Date(s * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function dayClock(s) {
    if (s == null) return "—";
    const d = new Date(s * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  function duration(s) {
    if (s == null || !isFinite(s)) return "—";
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    const h = Math.floor(s / 3600);
    return `${h} h ${pad(Math.round((s - 3600 * h) / 60))} min`;
  }
  function kelvin(T) {
    if (T == null) return "—";
    return T < 1 ? `${(T * 1000).toFixed(T < 0.1 ? 2 : 1)} mK` : `${T.toFixed(4)} K`;
  }
  function ohms(r, unit) {
    if (r == null) return "—";
    const a = Math.abs(r);
    const [f, p] = a >= 1e6 ? [1e-6, "M"] : a >= 1e3 ? [1e-3, "k"] : [1, ""];
    return `${(r * f).toPrecision(5)} ${p}${unit}`;
  }
  function num(v, digits) { return v == null ? "—" : Number(v).toPrecision(digits); }
  function text(el, value) { if (el.textContent !== value) el.textContent = value; }
  function rows(tbody, items, cells, empty) {
    tbody.replaceChildren();
    if (!items.length) {
      const tr = tbody.insertRow();
      const td = tr.insertCell();
      td.className = "empty";
      td.textContent = empty;
      return;
    }
    for (const item of items.slice().reverse()) {
      const tr = tbody.insertRow();
      for (const [cls, value] of cells(item)) {
        const td = tr.insertCell();
        td.className = cls;
        td.textContent = value;
      }
      tr.className = item.kind || item.level || "";
    }
  }

  // ------------------------------------------------------------------ plotting
  function niceStep(span, n) {
    const raw = span / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }
  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400];
  function ticks(lo, hi, log, time, n) {
    if (log && hi - lo < 1) {  // less than a decade: plain values, placed on the log axis
      const a = Math.pow(10, lo);
      const b = Math.pow(10, hi);
      const step = niceStep(b - a, n);
      const out = [];
      for (let v = Math.ceil(a / step) * step; v <= b; v += step) out.push(Math.log10(v));
      return out;
    }
    if (log) {
      const out = [];
      for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
        for (const m of (hi - lo < 2.5 ? [1, 2, 5] : [1])) {
          const v = e + Math.log10(m);
          if (v >= lo - 1e-9 && v <= hi + 1e-9) out.push(v);
        }
      }
      return out;
    }
    const step = time ? (TIME_STEPS.find((s) => (hi - lo) / s <= n) || 86400)
      : niceStep(hi - lo, n);
    const out = [];
    const offset = time ? new Date(lo * 1000).getTimezoneOffset() * -60 : 0;
    for (let v = Math.ceil((lo + offset) / step) * step - offset; v <= hi + 1e-9 * step;
      v += step) out.push(v);
    return out;
  }
  function label(v, axis) {
    if (axis.time) {
      const d = new Date(v * 1000);
      return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }
    const x = axis.log ? Math.pow(10, v) : v;
    const a = Math.abs(x);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(0);
    return String(Number(x.toPrecision(4)));
  }
  function extent(values, log) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (v == null || !isFinite(v) || (log && v <= 0)) continue;
      const t = log ? Math.log10(v) : v;
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    if (lo === Infinity) return null;
    if (hi - lo < 1e-12) { const d = log ? 0.5 : (Math.abs(lo) * 0.05 || 1); lo -= d; hi += d; }
    const pad = log ? 0.03 * (hi - lo) : 0.04 * (hi - lo);
    return [lo - pad, hi + pad];
  }
  // series: [{x: [...], y: [...], color, kind: "line"|"dots", label, faint}]
  function plot(canvas, series, opts) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const c = canvas.getContext("2d");
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, w, h);
    c.font = "12px system-ui, sans-serif";
    const m = { l: 62, r: 12, t: 8, b: 32 };
    const pw = w - m.l - m.r;
    const ph = h - m.t - m.b;
    const xa = { log: !!opts.xlog, time: !!opts.time };
    const ya = { log: !!opts.ylog, time: false };
    const xr = extent(series.flatMap((s) => s.x), xa.log);
    const yr = extent(series.flatMap((s) => s.y), ya.log);
    c.fillStyle = "#6b7685";
    if (!xr || !yr) {
      c.fillText(opts.empty || "no points yet", m.l + 10, m.t + 20);
      return;
    }
    const tx = (v) => (xa.log ? Math.log10(v) : v);
    const ty = (v) => (ya.log ? Math.log10(v) : v);
    const X = (v) => m.l + ((tx(v) - xr[0]) / (xr[1] - xr[0])) * pw;
    const Y = (v) => m.t + ph - ((ty(v) - yr[0]) / (yr[1] - yr[0])) * ph;
    // grid and tick labels
    c.strokeStyle = "#e6e9ee";
    c.lineWidth = 1;
    c.textAlign = "center";
    for (const v of ticks(xr[0], xr[1], xa.log, xa.time, Math.max(2, pw / 90))) {
      const px = m.l + ((v - xr[0]) / (xr[1] - xr[0])) * pw;
      c.beginPath(); c.moveTo(px, m.t); c.lineTo(px, m.t + ph); c.stroke();
      c.fillText(label(v, xa), px, m.t + ph + 14);
    }
    c.textAlign = "right";
    for (const v of ticks(yr[0], yr[1], ya.log, false, Math.max(2, ph / 45))) {
      const py = m.t + ph - ((v - yr[0]) / (yr[1] - yr[0])) * ph;
      c.beginPath(); c.moveTo(m.l, py); c.lineTo(m.l + pw, py); c.stroke();
      c.fillText(label(v, ya), m.l - 5, py + 4);
    }
    c.strokeStyle = "#9aa4b1";
    c.strokeRect(m.l, m.t, pw, ph);
    c.textAlign = "center";
    c.fillText(opts.xlabel || "", m.l + pw / 2, h - 3);
    c.save();
    c.translate(12, m.t + ph / 2);
    c.rotate(-Math.PI / 2);
    c.fillText(opts.ylabel || "", 0, 0);
    c.restore();
    // the curves, clipped to the frame
    c.save();
    c.beginPath(); c.rect(m.l, m.t, pw, ph); c.clip();
    for (const s of series) {
      c.strokeStyle = c.fillStyle = s.color;
      c.globalAlpha = s.faint ? 0.35 : 1;
      if (s.kind === "dots") {
        for (let i = 0; i < s.x.length; i++) {
          const x = s.x[i];
          const y = s.y[i];
          if (x == null || y == null || (xa.log && x <= 0) || (ya.log && y <= 0)) continue;
          c.fillRect(X(x) - 1.5, Y(y) - 1.5, 3, 3);
        }
      } else {
        c.lineWidth = s.width || 1.5;
        c.beginPath();
        let pen = false;
        for (let i = 0; i < s.x.length; i++) {
          const x = s.x[i];
          const y = s.y[i];
          if (x == null || y == null || (xa.log && x <= 0) || (ya.log && y <= 0)) {
            pen = false;
            continue;
          }
          if (pen) c.lineTo(X(x), Y(y)); else c.moveTo(X(x), Y(y));
          pen = true;
        }
        c.stroke();
      }
      if (s.newest && s.x.length) {  // the newest point, ringed
        const i = s.x.length - 1;
        if (s.x[i] != null && s.y[i] != null) {
          c.beginPath(); c.arc(X(s.x[i]), Y(s.y[i]), 4, 0, 2 * Math.PI); c.stroke();
        }
      }
    }
    c.restore();
    c.globalAlpha = 1;
    // legend
    c.textAlign = "left";
    let lx = m.l + 8;
    const labelled = series.filter((q) => q.label);
    if (labelled.length) {
      const width = labelled.reduce((sum, q) => sum + c.measureText(q.label).width + 30, 0);
      c.fillStyle = "rgba(255, 255, 255, 0.85)";
      c.fillRect(lx - 4, m.t + 1, width - 10, 16);
    }
    for (const s of labelled) {
      c.fillStyle = s.color;
      c.fillRect(lx, m.t + 6, 10, 3);
      c.fillStyle = "#1d2530";
      c.fillText(s.label, lx + 14, m.t + 11);
      lx += c.measureText(s.label).width + 30;
    }
  }

  // ------------------------------------------------------------------ the run page
  function renderRun(d) {
    const live = d.live || {};
    const state = live.state || d.status || "unknown";
    document.title = `${d.name || d.file} — ${state} — cryolab monitor`;
    text($("run-name"), d.name || d.file || "");
    const badge = $("status");
    text(badge, state);
    badge.className = `badge ${state}`;
    const msg = $("live-message");
    text(msg, live.message || (d.error ? `cannot read the file: ${d.error}` : ""));
    msg.className = "message " + ({ gone: "bad", failed: "bad", stalled: "warn",
      aborted: "warn", interrupted: "warn" }[state] || "");
    if (d.status == null) return;
    const step = d.step;
    text($("step"), step ? `step ${step.index + 1}${step.n_steps ? " of " + step.n_steps : ""}` +
      `: ${step.what} (${step.status}, ${step.n_points} points)` +
      ` · ${d.n_points} points tonight` +
      (d.simulated ? ` · simulated${d.speed ? ", speed " + d.speed : ""}` : "") : "no step yet");
    const end = d.end;
    let endText = "";
    if (end && end.ended) endText = `ended ${dayClock(end.at_s)}`;
    else if (end) {
      endText = `ends about ${dayClock(end.at_s)} (in ${duration(end.remaining_s)}` +
        (end.wall_remaining_s != null && d.simulated ?
          ` of simulated time, ${duration(end.wall_remaining_s)} of wall time)` : ")");
    }
    if (d.status === "running" && live.quiet_s != null) {
      endText += `${endText ? " · " : ""}last new point ${duration(live.quiet_s)} ago`;
    }
    text($("end"), endText);
    renderReadings(d);
    renderPlots(d);
    rows($("alarms").tBodies[0], d.alarms || [], (a) => [["time", clock(a.time_s)],
      ["kind", a.kind.replace(/_/g, " ")], ["", a.message]], "no alarm");
    rows($("faults").tBodies[0], d.faults || [], (f) => [["time", clock(f.time_s)],
      ["kind", `${f.instrument} ${f.kind}`], ["", `${f.action}: ${f.detail}`]], "no fault");
    rows($("events").tBodies[0], d.events || [], (e) => [["time", clock(e.time_s)],
      ["kind", e.level], ["", e.text]], "nothing logged");
  }

  function renderReadings(d) {
    const r = d.latest;
    const tbody = $("readings").tBodies[0];
    text($("reading-time"), r ? `at ${clock(r.time_s)}` : "");
    if (!r) { rows(tbody, [], () => [], "no point yet"); return; }
    const items = [["T_MC", kelvin(r.T_mc_K)], ["T_sample", kelvin(r.T_sample_K)],
      ["mismatch (T_s − T_MC)/T_MC", r.mismatch == null ? "—" :
        `${(100 * r.mismatch).toFixed(1)} %`],
      ["field", r.field_Oe == null ? "—" : `${num(r.field_Oe, 4)} Oe`]];
    for (const [ch, value] of Object.entries(r.rho || {})) {
      const unit = (r.rho_units || {})[ch] || "Ω/□";
      items.push([`ρ ${ch}`, ohms(value, unit)]);
    }
    tbody.replaceChildren();
    for (const [name, value] of items) {
      const tr = tbody.insertRow();
      const a = tr.insertCell(); a.className = "name"; a.textContent = name;
      const b = tr.insertCell(); b.className = "value"; b.textContent = value;
    }
  }

  function renderPlots(d) {
    const sc = d.step_curve;
    const rhoSeries = [];
    const fitText = [];
    if (sc) {
      text($("rho-title"), `ρ(T) of step ${sc.index != null ? sc.index + 1 : ""} ` +
        `(${sc.kind}${sc.field_Oe != null ? ", " + num(sc.field_Oe, 4) + " Oe" : ""})`);
      Object.entries(sc.channels).forEach(([ch, curve], k) => {
        const color = COLORS[k % COLORS.length];
        const good = { x: [], y: [] };
        const flagged = { x: [], y: [] };
        curve.rho.forEach((v, i) => {
          const into = curve.valid[i] ? good : flagged;
          into.x.push(sc.T_K[i]); into.y.push(v);
        });
        rhoSeries.push({ ...flagged, color: "#9aa4b1", kind: "dots",
          label: k === 0 && flagged.x.length ? "flagged (not fitted)" : "" });
        rhoSeries.push({ ...good, color, kind: "dots", label: `ρ ${ch}` });
        if (curve.fit) {
          rhoSeries.push({ x: curve.fit.T_K, y: curve.fit.rho, color: "#1d2530", kind: "line",
            label: k === 0 ? `fit ${curve.fit.model}` : "", width: 2 });
          const p = Object.entries(curve.fit.params)
            .map(([n, v]) => `${n} = ${Number(v).toPrecision(3)}`).join(", ");
          fitText.push(`${ch}: ${curve.fit.model}${curve.fit.final ? "" : " (live)"}: ${p}` +
            (curve.fit.chi2_red != null ? `; χ²_red ${curve.fit.chi2_red.toPrecision(3)}` : ""));
        }
      });
    }
    text($("fit"), fitText.join(" · ") || (sc ? "no fit yet" : ""));
    plot($("rho-plot"), rhoSeries, { xlog: false, ylog: true, xlabel: "T_sample (K)",
      ylabel: "ρ (Ω/□)", empty: "no points in this step yet" });
    const n = d.night;
    const times = n ? n.t_s.map((t) => n.t0_s + t) : [];
    plot($("temp-plot"), n ? [
      { x: times, y: n.T_mc_K, color: COLORS[0], label: "T_MC", newest: true },
      { x: times, y: n.T_sample_K, color: COLORS[1], label: "T_sample", newest: true },
    ] : [], { time: true, ylabel: "T (K)", xlabel: "time" });
    plot($("field-plot"), n ? [
      { x: times, y: n.field_Oe, color: COLORS[2], label: "H", newest: true },
    ] : [], { time: true, ylabel: "H (Oe)", xlabel: "time" });
  }

  // ------------------------------------------------------------------ the run list
  function renderList(d) {
    const tbody = $("runs").tBodies[0];
    tbody.replaceChildren();
    for (const r of d.runs) {
      const tr = tbody.insertRow();
      const a = document.createElement("a");
      a.href = `/run/${encodeURIComponent(r.id)}`;
      a.textContent = r.name || r.file;
      tr.insertCell().append(a);
      const state = (r.live && r.live.state) || r.status || "unreadable";
      const badge = document.createElement("span");
      badge.className = `badge ${state}`;
      badge.textContent = state;
      tr.insertCell().append(badge);
      tr.insertCell().textContent = dayClock(r.created_s);
      tr.insertCell().textContent = r.step ? `${r.step.index + 1}: ${r.step.kind}` : "—";
      tr.insertCell().textContent = r.n_points != null ? String(r.n_points) : "—";
      tr.insertCell().textContent = r.file;
    }
    if (!d.runs.length) rows(tbody, [], () => [], "no run file here yet");
  }

  // ------------------------------------------------------------------ polling
  function plotWidth() {
    const canvas = $("temp-plot");
    return Math.max(200, Math.round((canvas && canvas.clientWidth) || 800));
  }
  async function poll() {
    const conn = $("conn");
    try {
      const url = RUN ? `/api/runs/${encodeURIComponent(RUN)}?since=${version}` +
        `&width=${plotWidth()}` : "/api/runs";
      const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      if (!response.ok) throw new Error(`the monitor answered ${response.status}`);
      const d = await response.json();
      conn.className = "";
      text(conn, `updated ${clock(Date.now() / 1000)}`);
      if (!RUN) renderList(d);
      else if (d.unchanged) { view.live = d.live; renderRun(view); }
      else { view = d; version = d.version != null ? d.version : -1; renderRun(view); }
    } catch (err) {
      conn.className = "down";
      text(conn, `no answer from the monitor (${err.message}); trying again`);
    } finally {
      window.setTimeout(poll, POLL_MS);
    }
  }
  $(RUN ? "run-view" : "list-view").hidden = false;
  window.addEventListener("resize", () => { if (view) renderPlots(view); });
  poll();
})();

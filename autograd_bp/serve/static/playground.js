// The playground page: a form around the step-through component. Every number shown comes
// from the server's JSON API (the engine in Python); nothing is computed here.
import { mountStepper, t, translatePage, useMessages } from "./stepper.js";

const $ = (id) => document.getElementById(id);
let stepper = null, presets = [], drawing = 0, timer = null;

async function api(path, body) {
  const reply = await fetch(path + "?lang=" + language, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  const doc = await reply.json();
  if (!reply.ok) throw new Error(doc.error || ("HTTP " + reply.status));
  return doc;
}

function currentValues() {
  const values = {};
  document.querySelectorAll("#values input[type=number]").forEach((input) => {
    values[input.dataset.name] = Number(input.value);
  });
  return values;
}

function valueRow(name, value) {
  const row = document.createElement("div");
  row.className = "value-row";
  const label = document.createElement("label");
  label.textContent = name; label.htmlFor = "value-" + name;
  const field = document.createElement("input");
  Object.assign(field, {type: "number", id: "value-" + name, step: "any", value: String(value)});
  field.dataset.name = name;
  const slider = document.createElement("input");
  const span = Math.max(2, Math.abs(value) * 2);
  Object.assign(slider, {type: "range", min: String(-span), max: String(span), step: "0.01",
                         value: String(value)});
  slider.setAttribute("aria-label", t("{name} slider", {name}));
  field.addEventListener("input", () => {
    if (field.value !== "" && Number.isFinite(Number(field.value))) {
      slider.value = field.value; later();
    }
  });
  slider.addEventListener("input", () => { field.value = slider.value; later(); });
  row.append(label, field, slider);
  return row;
}

async function setVariables(expression, given) {
  const {variables} = await api("/api/variables", {expression});
  const old = currentValues(), box = $("values");
  box.replaceChildren(...variables.map((n) => valueRow(n, n in given ? given[n] : (n in old ? old[n] : 1))));
  return variables;
}

function later() { clearTimeout(timer); timer = setTimeout(draw, 250); }

function esc(text) {  // names are identifiers already; escaped anyway, it costs nothing
  const span = document.createElement("span"); span.textContent = String(text);
  return span.innerHTML;
}

function showResult(doc) {
  const out = esc(doc.output), rows = Object.entries(doc.gradients)
    .map(([n, g]) => `<tr><td>∂${out}/∂${esc(n)}</td><td>${g}</td></tr>`).join("");
  $("result").innerHTML = `<p><b>${out}</b> = ${doc.value}</p><table>${rows}</table>`;
  const wrt = $("wrt"), keep = wrt.value;
  wrt.replaceChildren(...Object.keys(doc.gradients).map((n) => new Option(n, n)));
  if (keep in doc.gradients) wrt.value = keep;
}

async function draw(extra = {}) {
  const ticket = ++drawing;
  const expression = $("expression").value;
  $("error").textContent = "";
  document.body.classList.add("busy");
  try {
    await setVariables(expression, extra.values || {});
    const doc = await api("/api/grad", {expression, values: currentValues()});
    if (ticket !== drawing) return;  // a newer request is on its way
    const step = stepper && !extra.values ? stepper.step() : 0;
    if (stepper) stepper.destroy();
    stepper = mountStepper($("stepper"), doc);
    if (step) stepper.show(Math.min(step, doc.steps.length - 1));
    showResult(doc);
    $("gradcheck-result").textContent = "";
  } catch (e) {
    if (ticket === drawing) $("error").textContent = e.message;
  } finally {
    if (ticket === drawing) document.body.classList.remove("busy");
  }
}

async function gradcheck() {
  $("error").textContent = "";
  try {
    const doc = await api("/api/grad", {expression: $("expression").value,
                                        values: currentValues(), check: true});
    const c = doc.check;
    const rows = c.inputs.map((r) => `<tr><td>${esc(r.name)}</td><td>${r.analytic}</td>` +
      `<td>${r.numeric}</td><td>${r.ok ? "✓" : "✗"}</td></tr>`).join("");
    $("gradcheck-result").innerHTML =
      `<p>${esc(c.passed
        ? t("✓ passed: engine vs central differences (largest error {error})", {error: c.max_error})
        : t("✗ failed: engine vs central differences (largest error {error})", {error: c.max_error}))}` +
      `</p><table><tr><th>${t("input")}</th><th>${t("engine")}</th>` +
      `<th>${t("numeric")}</th><th></th></tr>${rows}</table>`;
  } catch (e) { $("error").textContent = e.message; }
}

async function check() {
  $("verdict").textContent = ""; $("diagnosis").replaceChildren();
  try {
    const doc = await api("/api/check", {expression: $("expression").value,
      values: currentValues(), wrt: $("wrt").value, claim: $("claim").value});
    const words = {correct: t("✓ correct"), wrong: t("✗ wrong"),
                   only_here: t("≈ right only here"), undecided: t("? undecided")};
    $("verdict").className = "verdict-" + doc.verdict;
    $("verdict").textContent = t("{verdict} — engine {engine}, your formula {claimed} " +
      "({points} points checked)", {verdict: words[doc.verdict] || doc.verdict,
      engine: doc.engine, claimed: doc.claimed === null ? t("undefined") : doc.claimed,
      points: doc.points});
    $("diagnosis").replaceChildren(...doc.diagnosis.map((line) => {
      const li = document.createElement("li"); li.textContent = line; return li;
    }));
  } catch (e) { $("verdict").className = "verdict-wrong"; $("verdict").textContent = e.message; }
}

function choose(i) {
  const p = presets[i];
  $("expression").value = p.expression;
  $("claim").value = p.claim || "";
  $("verdict").textContent = ""; $("diagnosis").replaceChildren();
  $("values").replaceChildren();
  return draw({values: p.values}).then(() => { if (p.wrt) $("wrt").value = p.wrt; });
}

$("form").addEventListener("submit", (e) => { e.preventDefault(); draw(); });
$("check-form").addEventListener("submit", (e) => { e.preventDefault(); check(); });
$("gradcheck").addEventListener("click", gradcheck);
$("preset").addEventListener("change", () => choose(Number($("preset").value)));
$("expression").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); draw(); }
});
document.addEventListener("keydown", (e) => {
  const t = e.target.tagName;
  if (!stepper || ["INPUT", "TEXTAREA", "SELECT"].includes(t) || e.target.isContentEditable) return;
  stepper.key(e);
});

// The page's language: ?lang=zh, else the server's (serve --lang, AUTOGRAD_BP_LANG); its
// catalog translates the page's texts and every request asks for answers in it too.
let language = new URLSearchParams(location.search).get("lang") || "";
const words = fetch("/api/messages" + (language ? "?lang=" + language : ""))
  .then((r) => r.json()).then((doc) => {
    if (doc.error) throw new Error(doc.error);
    language = doc.lang; useMessages(doc.messages);
    document.documentElement.lang = language === "zh" ? "zh-CN" : language;
    translatePage(document);
    $("lang").value = language;
  }).catch((e) => { language = "en"; $("lang-error").textContent = e.message; });
$("lang").addEventListener("change", () => {
  const query = new URLSearchParams(location.search);
  query.set("lang", $("lang").value); location.search = query.toString();
});

words.then(() => fetch("/api/presets")).then((r) => r.json()).then((doc) => {
  presets = doc.presets;
  $("preset").replaceChildren(...presets.map((p, i) => new Option(t(p.name), String(i))));
  return choose(0);
}).then(() => document.body.dataset.ready = "1");

// --- the misconception lab: the expression under a catalogue bug, beside the engine ---------
// (the bugs are faulty variants of the package's own engine, run by the server: GET /api/bugs,
// POST /api/lab; every number shown comes from there)

function labTable(rows, what) {
  const body = rows.map((d) => `<tr><td>${esc(d.name)}</td><td>${d.buggy}</td>` +
    `<td>${d.correct}</td><td>${esc(d.why)}</td></tr>`).join("");
  const head = [t("node"), t("faulty engine"), t("this engine"), t("why")];
  return `<table class="lab-table" data-what="${what}"><tr>` +
    head.map((h) => `<th>${esc(h)}</th>`).join("") + `</tr>${body}</table>`;
}

function predictionLine(p, output) {
  const both = p.buggy === p.correct ? t("matches both: the bug does not change it")
    : t("matches both to the digits you wrote: write more digits to tell them apart");
  const said = {buggy: t("matches the faulty engine"),
    correct: t("matches the correct engine, not the faulty one"), both,
    neither: t("matches neither engine")}[p.matched];
  return t("Your prediction for ∂{out}/∂{wrt}: {predicted} — {said} " +
    "(faulty {buggy}, correct {correct})", {out: output, wrt: p.wrt, predicted: p.predicted,
    said, buggy: p.buggy, correct: p.correct});
}

function showLab(doc) {
  const parts = [];
  if (doc.prediction) {
    parts.push(`<p class="lab-prediction">${esc(predictionLine(doc.prediction, doc.output))}</p>`);
  }
  if (!doc.exposed) {
    const none = t("No node differs: {reason}", {reason: doc.reason});
    parts.push(`<p class="lab-verdict">${esc(none)}</p>`);
  } else {
    if (doc.values_differ.length) {
      parts.push(`<p>${esc(t("Values that differ:"))}</p>` +
        labTable(doc.values_differ, "values"));
    }
    const count = t("{n} node(s) whose ∂{out}/∂node differs:",
      {n: doc.differing.length, out: doc.output});
    parts.push(`<p class="lab-verdict">${esc(count)}</p>` + labTable(doc.differing, "grads"));
  }
  const g = doc.gradcheck, word = (r) => (r.passed ? t("✓ passes") : t("✗ fails"));
  const checked = t("Gradient check (central differences): faulty engine {buggy}, " +
    "this engine {correct}", {buggy: word(g.buggy), correct: word(g.correct)});
  parts.push(`<p class="lab-gradcheck">${esc(checked)}</p>`);
  $("lab-result").innerHTML = parts.join("");
}

async function runLab() {
  $("lab-result").textContent = "";
  const body = {expression: $("expression").value, values: currentValues(), bug: $("bug").value};
  const guess = $("lab-prediction").value;
  if (guess !== "" && Number.isFinite(Number(guess))) {
    body.prediction = Number(guess);
    if ($("wrt").value) body.wrt = $("wrt").value;
  }
  try { showLab(await api("/api/lab", body)); }
  catch (e) { $("lab-result").textContent = e.message; }
}

function showBugChange() {
  const chosen = $("bug").selectedOptions[0];
  $("bug-change").textContent = chosen ? chosen.dataset.change : "";
}

// the bugs' titles and changes in the page's language, once it is known
words.then(() => fetch("/api/bugs?lang=" + language)).then((r) => r.json()).then((doc) => {
  $("bug").replaceChildren(...doc.bugs.map((b) => {
    const option = new Option(`${b.id} — ${b.title}`, b.id);
    option.dataset.change = b.change;
    return option;
  }));
  showBugChange();
  document.body.dataset.bugs = "1";
});
$("bug").addEventListener("change", showBugChange);
$("lab-form").addEventListener("submit", (e) => { e.preventDefault(); runLab(); });

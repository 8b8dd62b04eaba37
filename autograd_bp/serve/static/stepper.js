// The step-through of one backward pass: the Graphviz SVG drawn by autograd_bp.viz, the
// states of backward_steps applied to it one at a time, each node's chain-rule sum on hover
// or click. Everything shown is computed in Python (autograd_bp.serve.data.graph_data);
// this file only displays it. The playground page and the Jupyter widget both use it.

// ---- the words around the numbers, in the reader's language -----------------------------
// A catalog is msgid -> translation (the "web" gettext domain, autograd_bp/locale/<lang>/
// LC_MESSAGES/web.po, sent as JSON by the server or embedded in the page); English is the
// msgid itself, so an empty catalog is English. Every text is written t("…") for Babel's
// javascript extractor (scripts/web_messages.py); {name} slots are filled after translating,
// so formulas, names and numbers never pass through a catalog.
let pageMessages = {};
// msgids asked for in a language whose catalog lacks them (none, in a tested page)
export const untranslated = new Set();

export function translate(messages, text, slots = {}) {
  const has = Object.prototype.hasOwnProperty.call(messages, text);
  if (!has && Object.keys(messages).length) untranslated.add(text);
  return (has ? messages[text] : text)
    .replace(/\{(\w+)\}/g, (m, k) => (k in slots ? String(slots[k]) : m));
}

export function t(text, slots) { return translate(pageMessages, text, slots); }

export function useMessages(messages) { pageMessages = messages || {}; }

const squash = (html) => html.replace(/\s+/g, " ").trim();

// The static texts of a page: an element marked data-t has its inner HTML translated (the
// msgid is that HTML, whitespace squashed), or, when data-t names a message with {slots},
// its text becomes that message with the slots filled from its data-* attributes
// (data-name="f" for {name}), as text; data-t-attr lists attributes to translate.
export function translatePage(root = document, messages = pageMessages) {
  if (!Object.keys(messages).length) return;  // English: the page as written
  root.querySelectorAll("[data-t]").forEach((el) => {
    if (el.dataset.t) el.textContent = translate(messages, el.dataset.t, {...el.dataset});
    else el.innerHTML = translate(messages, squash(el.innerHTML));
  });
  root.querySelectorAll("[data-t-attr]").forEach((el) => {
    el.dataset.tAttr.split(" ")
      .forEach((a) => el.setAttribute(a, translate(messages, el.getAttribute(a))));
  });
}

function escape(text) {
  const span = document.createElement("span"); span.textContent = text;
  return span.innerHTML.replace(/"/g, "&quot;");
}

// plain strings, not a template: Babel's extractor then finds every t("…")
const button = (act, title, label) => '<button data-act="' + act + '" title="' +
  escape(title) + '">' + escape(label) + "</button>";

const html = (t) => '<div class="abp-bar">' +
  button("first", t("first step (Home)"), t("◀◀ first")) +
  button("prev", t("previous step (←)"), t("◀ previous")) +
  button("play", t("play / pause (p)"), t("▶ play")) +
  button("next", t("next step (→)"), t("next ▶")) +
  button("last", t("last step (End)"), t("last ▶▶")) +
  '<input class="abp-slider" type="range" min="0" value="0" aria-label="' +
  escape(t("backward step")) + '"><span class="abp-counter" aria-live="polite"></span></div>' +
  '<div class="abp-text" aria-live="polite"></div><div class="abp-bar">' +
  button("zoom-out", t("zoom out (−)"), t("− zoom")) +
  button("zoom-in", t("zoom in (+)"), t("+ zoom")) +
  button("fit", t("fit the width"), t("fit")) +
  button("actual", t("actual size"), "100 %") + '<span class="abp-zoom"></span>' +
  '<span class="abp-hint">' +
  escape(t("hover or click a value node for its chain-rule sum; drag to pan")) + "</span>" +
  '</div><div class="abp-node" aria-live="polite" data-empty="' +
  escape(t("(no node chosen)")) + '"></div>' +
  '<div class="abp-viewport"><div class="abp-diagram"></div></div>';

export function mountStepper(el, data, messages = pageMessages) {
  const t = (text, slots) => translate(messages, text, slots);  // this stepper's language
  el.classList.add("abp-stepper");
  el.innerHTML = html(t);
  const q = (sel) => el.querySelector(sel);
  const vp = q(".abp-viewport"), diagram = q(".abp-diagram"), slider = q(".abp-slider");
  let k = 0, zoom = null, timer = null, pinned = null, drag = null;
  diagram.innerHTML = data.svg;
  const svg = diagram.querySelector("svg");
  slider.max = data.steps.length - 1;

  function natural() {  // Graphviz writes width/height in pt
    return [parseFloat(svg.getAttribute("width")) * 4 / 3,
            parseFloat(svg.getAttribute("height")) * 4 / 3];
  }
  function applyZoom() {
    const [w, h] = natural();
    // First view: the whole width when that keeps labels readable (60 % of Graphviz's 14 pt
    // is 11 px), else 60 % and the panning of reveal(); never enlarged past 100 %.
    if (zoom === null) zoom = Math.max(0.6, Math.min(1, vp.clientWidth / w || 1));
    svg.style.width = (w * zoom) + "px"; svg.style.height = (h * zoom) + "px";
    q(".abp-zoom").textContent = Math.round(zoom * 100) + " %";
  }
  function setZoom(z) { zoom = Math.max(0.1, Math.min(4, z)); applyZoom(); }
  function paint(shape, fill, stroke, width) {
    if (fill !== null) shape.setAttribute("fill", fill);
    shape.setAttribute("stroke", stroke);
    shape.setAttribute("stroke-width", width);
  }
  function styleNode(g, state) {
    const id = g.id, kind = ["output", "parameter", "input", "computed"]
      .find((c) => g.classList.contains(c));
    const isFinal = state.final.includes(id), touched = state.touched.includes(id);
    const fill = isFinal ? data.colors.final : data.colors[kind];
    const stroke = touched ? data.colors.highlight : "black", width = touched ? 2.5 : 1;
    g.querySelectorAll("polygon").forEach((p, i) => paint(p, i === 0 ? fill : null, stroke, width));
    g.querySelectorAll("polyline").forEach((p) => paint(p, null, stroke, 1));  // record fields
    g.classList.toggle("final", isFinal);
    const grad = [...g.querySelectorAll("text")].find((t) => t.textContent.startsWith("grad "));
    if (grad) grad.textContent = "grad " + state.grads[id];
  }
  function styleEdge(g, active) {
    const on = g.id === active, colour = on ? data.colors.highlight : "black";
    g.classList.toggle("active", on);
    g.querySelectorAll("path, polyline").forEach((p) => paint(p, null, colour, on ? 3 : 1));
    g.querySelectorAll("polygon").forEach((p) => paint(p, colour, colour, on ? 3 : 1));
    g.querySelectorAll("text").forEach((t) => t.setAttribute("fill", colour));
  }
  function reveal() {  // keep the edge just used in view; before any, the output it starts from
    const a = svg.querySelector("g.edge.active") || svg.querySelector("g.node.output");
    if (!a) return;
    const r = a.getBoundingClientRect(), v = vp.getBoundingClientRect();
    if (r.left < v.left || r.right > v.right || r.top < v.top || r.bottom > v.bottom) {
      vp.scrollLeft += (r.left + r.right) / 2 - (v.left + v.right) / 2;
      vp.scrollTop += (r.top + r.bottom) / 2 - (v.top + v.bottom) / 2;
    }
  }
  function show(i) {
    k = Math.max(0, Math.min(data.steps.length - 1, i));
    const state = data.steps[k];
    svg.querySelectorAll("g.node.value").forEach((g) => styleNode(g, state));
    svg.querySelectorAll("g.edge").forEach((g) => {
      if (g.id.includes("#")) styleEdge(g, state.active);  // operand edges only
    });
    q(".abp-text").textContent = state.text;
    slider.value = k;
    q(".abp-counter").textContent = t("step {k} / {n}", {k, n: data.steps.length - 1});
    reveal();
    if (k === data.steps.length - 1) pause();
  }
  function pause() {
    clearInterval(timer); timer = null; q('[data-act="play"]').textContent = t("▶ play");
  }
  function play() {
    if (timer) return pause();
    if (k === data.steps.length - 1) show(0);
    q('[data-act="play"]').textContent = t("■ pause");
    timer = setInterval(() => show(k + 1), 900);
  }
  function describe(id) {
    const n = data.nodes[id];
    q(".abp-node").textContent = n ? n.sum : "";
  }
  const actions = {
    first: () => show(0), prev: () => show(k - 1), next: () => show(k + 1),
    last: () => show(data.steps.length - 1), play,
    "zoom-in": () => setZoom(zoom * 1.25), "zoom-out": () => setZoom(zoom / 1.25),
    actual: () => setZoom(1), fit: () => setZoom(vp.clientWidth / natural()[0]),
  };
  el.querySelectorAll("button[data-act]").forEach((b) => {
    b.addEventListener("click", () => actions[b.dataset.act]());
  });
  slider.addEventListener("input", () => show(Number(slider.value)));
  svg.querySelectorAll("g.node.value").forEach((g) => {
    g.style.cursor = "pointer";
    g.addEventListener("mouseenter", () => describe(g.id));
    g.addEventListener("mouseleave", () => describe(pinned));
    g.addEventListener("click", (e) => { e.stopPropagation(); pinned = g.id; describe(g.id); });
    g.setAttribute("tabindex", "0");  // Tab reaches every node too: focus shows its sum
    g.addEventListener("focus", () => { pinned = g.id; describe(g.id); });
  });
  vp.addEventListener("mousedown", (e) => {
    drag = [e.clientX, e.clientY, vp.scrollLeft, vp.scrollTop]; vp.classList.add("dragging");
  });
  const move = (e) => {
    if (!drag) return;
    vp.scrollLeft = drag[2] - (e.clientX - drag[0]); vp.scrollTop = drag[3] - (e.clientY - drag[1]);
  };
  const up = () => { drag = null; vp.classList.remove("dragging"); };
  window.addEventListener("mousemove", move);
  window.addEventListener("mouseup", up);
  vp.addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault(); setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
  }, {passive: false});
  const keys = {ArrowRight: actions.next, ArrowLeft: actions.prev, Home: actions.first,
                End: actions.last, p: play, "+": actions["zoom-in"], "-": actions["zoom-out"]};
  function key(e) {  // returns whether the key was a step-through key
    if (!(e.key in keys) || e.ctrlKey || e.altKey || e.metaKey) return false;
    e.preventDefault();  // the slider must not move a second time on its own
    keys[e.key]();
    return true;
  }
  el.tabIndex = 0;
  el.addEventListener("keydown", (e) => { if (key(e)) e.stopPropagation(); });
  applyZoom(); show(0); describe(null);
  return {
    show, key, step: () => k,
    destroy() {
      pause(); window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up); el.innerHTML = "";
    },
  };
}

// anywidget: autograd_bp.serve.widget.GraphWidget sends the same data as the page's API,
// and its language's catalog as "messages".
export default {
  render({ model, el }) {
    let stepper = null;
    const draw = () => {
      if (stepper) stepper.destroy();
      stepper = mountStepper(el, model.get("data"), model.get("messages") || {});
    };
    model.on("change:data", draw);
    draw();
    return () => { if (stepper) stepper.destroy(); };
  },
};

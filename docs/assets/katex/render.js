// Render the $$ … $$ blocks that pymdownx.arithmatex (generic mode) leaves in the page, with
// the KaTeX shipped next to this file (no CDN: the docs work offline). Material's document$
// fires on every page load, including instant navigation.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
});

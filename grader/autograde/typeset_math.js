// Typeset the TeX math of an HTML page into static SVG: the page on stdin, the page with every
// formula rendered on stdout, nothing else (no script is left for the browser to run).
// Usage: node typeset_math.js <folder of MathJax 3's es5 components>
// The page may hold student text: the TeX packages that make links, classes, styles, or load
// code (html, unicode, require, autoload) are left out, so those commands render as errors, and
// MathJax's "safe" filter drops unsafe URLs, classes, ids and styles that other commands set
// (\mmlToken's attributes).
"use strict";
const fs = require("fs");

const page = fs.readFileSync(0, "utf8");
const components = process.argv[2];
require(`${components}/node-main.js`)
  .init({
    loader: { paths: { mathjax: components }, load: ["adaptors/liteDOM", "input/tex-full", "output/svg", "ui/safe"] },
    tex: {
      inlineMath: [["$", "$"], ["\\(", "\\)"]],
      displayMath: [["$$", "$$"], ["\\[", "\\]"]],
      processEscapes: true,
      processEnvironments: true,
      packages: { "[-]": ["autoload", "require", "html", "unicode"] },
    },
    svg: { fontCache: "global" },
    startup: {
      typeset: false,
      document: page,
      ready() {
        // ui/safe hooks itself in only in a browser: here it is done by hand, before the page's
        // document is made.
        MathJax.startup.extendHandler((handler) => MathJax._.ui.safe.SafeHandler.SafeHandler(handler));
        MathJax.startup.defaultReady();
      },
    },
  })
  .then((MathJax) => {
    const adaptor = MathJax.startup.adaptor;
    const html = MathJax.startup.document;
    html.render();
    process.stdout.write(`${adaptor.doctype(html.document)}\n${adaptor.outerHTML(adaptor.root(html.document))}`);
  })
  .catch((error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });

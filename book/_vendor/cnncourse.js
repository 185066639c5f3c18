/* Accessible names the theme's and the widget manager's markup leave out (registered as
 * html_js_files in _config.yml; tests/book/test_a11y.py runs axe-core on every page).
 *  - the left sidebar's expand toggles (<summary> holding only an icon): named after the
 *    chapter they open;
 *  - buttons and toggles whose aria-label differs from their visible text (search, colour
 *    mode, sphinx-togglebutton's "Toggle hidden content" on hidden cell outputs): the label
 *    starts with the visible text, so speech users can say what they see;
 *  - the demos' controls (cnncourse.book.widgets): a dropdown or slider carries no label of its own
 *    (the text beside it is a separate widget), so it gets that text as its aria-label. Widgets
 *    render after the page loads, so new controls are labelled as they appear;
 *  - the demos' pictures: the description cnncourse.book.widgets puts, hidden, in the demo's
 *    header becomes the alt text of each picture. */
(function () {
  "use strict";

  function nameSummaries(root) {
    root.querySelectorAll("summary").forEach(function (summary) {
      if (summary.textContent.trim() || summary.hasAttribute("aria-label")) return;
      var link = summary.parentElement && summary.parentElement.previousElementSibling;
      var owner = summary.closest("li");
      var title = owner && owner.querySelector("a");
      var text = (title || link || {}).textContent || "this section";
      summary.setAttribute("aria-label", "Show or hide the sections of " + text.trim());
    });
  }

  function matchVisibleText(root) {
    root.querySelectorAll("button[aria-label], summary[aria-label]").forEach(function (button) {
      var visible = button.innerText.replace(/\s+/g, " ").trim();
      var label = button.getAttribute("aria-label");
      if (visible && label.toLowerCase().indexOf(visible.toLowerCase()) !== 0) {
        button.setAttribute("aria-label", visible + " (" + label + ")");
      }
    });
  }

  function describeDemoPictures(root) {
    root.querySelectorAll(".cnn-demo").forEach(function (demo) {
      var alt = demo.querySelector(".cnn-demo-alt");
      if (!alt) return;
      demo.querySelectorAll("img:not([alt])").forEach(function (img) {
        img.setAttribute("alt", alt.textContent);
      });
    });
  }

  function labelDemoControls(root) {
    root.querySelectorAll(".cnn-demo .widget-hbox").forEach(function (row) {
      var label = row.querySelector(".widget-html-content");
      if (!label) return;
      var text = label.textContent.replace(/\s+/g, " ").trim();
      row.querySelectorAll("select, .noUi-handle, input").forEach(function (control) {
        if (!control.hasAttribute("aria-label")) control.setAttribute("aria-label", text);
      });
    });
  }

  function fix(root) {
    nameSummaries(root);
    matchVisibleText(root);
    labelDemoControls(root);
    describeDemoPictures(root);
  }

  function start() {
    fix(document);
    new MutationObserver(function () {
      matchVisibleText(document);
      labelDemoControls(document);
      describeDemoPictures(document);
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// DRF's browsable API, made readable by screen readers (templates/rest_framework/api.html): its
// base template names no language, and its format menu button shows only a caret (Bootstrap's
// tooltip moves the button's title away, leaving it without a name).
(function () {
  if (!document.documentElement.lang) document.documentElement.lang = "en";
  document.querySelectorAll(".dropdown-toggle").forEach(function (button) {
    if (!button.getAttribute("aria-label")) {
      button.setAttribute("aria-label", button.getAttribute("title") || button.dataset.originalTitle || "More formats");
    }
  });
})();

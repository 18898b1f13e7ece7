// Copy buttons: <button type="button" data-copy="#input-id">. A static file, not inline
// (the Content-Security-Policy allows only our own scripts); one listener on the document, so
// buttons that HTMX swaps in work too.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.querySelector(button.getAttribute("data-copy"));
  if (!field) return;
  var label = button.textContent;
  function done(text) {
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  function fallback() {
    field.select();
    done(document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy");
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () { done("Copied"); }, fallback);
  } else {
    fallback();
  }
});

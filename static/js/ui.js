// Small disclosures, no framework. Loaded in <head> (not deferred) so the page is drawn once
// with its folded state: the "js" class lets the stylesheet fold what scripts can unfold;
// without scripts nothing is folded. One listener on the document, so elements HTMX swaps in
// work too.
//
//   <button data-disclosure="id">           shows / hides #id (the nav menu, the log form):
//                                           toggles class "open" on it and aria-expanded;
//                                           data-focus="#field" moves focus there on opening.
//   <button data-item-menu> in .interaction  a timeline item's Actions menu: toggles class
//                                           "menu-open" on the item (its .item-action controls).
//   Escape closes the disclosure or item menu the focus is in, and focuses its button again.
document.documentElement.classList.add("js");

(function () {
  function setOpen(button, target, className, open) {
    target.classList.toggle(className, open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-disclosure], [data-item-menu]");
    if (!button) return;
    if (button.hasAttribute("data-item-menu")) {
      var item = button.closest(".interaction");
      if (item) setOpen(button, item, "menu-open", !item.classList.contains("menu-open"));
      return;
    }
    var target = document.getElementById(button.getAttribute("data-disclosure"));
    if (!target) return;
    var open = !target.classList.contains("open");
    setOpen(button, target, "open", open);
    var focus = open && button.getAttribute("data-focus");
    if (focus && document.querySelector(focus)) document.querySelector(focus).focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var here = document.activeElement;
    var item = here && here.closest(".interaction.menu-open");
    if (item) {
      var toggle = item.querySelector("[data-item-menu]");
      setOpen(toggle, item, "menu-open", false);
      toggle.focus();
      return;
    }
    var buttons = document.querySelectorAll("[data-disclosure][aria-expanded=true]");
    for (var i = 0; i < buttons.length; i++) {
      var target = document.getElementById(buttons[i].getAttribute("data-disclosure"));
      if (target && (target.contains(here) || buttons[i] === here)) {
        setOpen(buttons[i], target, "open", false);
        buttons[i].focus();
        return;
      }
    }
  });

  // After an interaction is logged (the answer fills #log-status): on a phone the form folds
  // away again and the confirmation, above the timeline with the new item on top, is shown.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var status = event.detail && event.detail.target;
    if (!status || status.id !== "log-status") return;
    var button = document.querySelector("[data-disclosure=log-panel]");
    var panel = document.getElementById("log-panel");
    if (button && panel && button.offsetParent !== null) {
      setOpen(button, panel, "open", false);
    }
    status.scrollIntoView({block: "nearest"});
  });
})();

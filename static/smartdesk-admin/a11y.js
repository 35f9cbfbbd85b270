/* Accessibility fixes on Django's admin scripts.
 *
 * SelectFilter2.js (the two-list "filter_horizontal" widget) puts an aria-label on the
 * magnifier <span> beside each filter box; a span has no role that may carry a name
 * (axe: aria-prohibited-attr). As an image the icon keeps its name. The widget draws itself
 * on window "load"; this listener is added later, so it runs after it.
 */
"use strict";
window.addEventListener("load", function () {
  document.querySelectorAll("span.help-tooltip[aria-label]:not([role])").forEach(function (icon) {
    icon.setAttribute("role", "img");
  });
});

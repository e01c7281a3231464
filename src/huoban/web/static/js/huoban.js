// Small behaviours without inline scripts (the CSP forbids them): the phone menu toggle.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-toggle]");
  if (!button) return;
  var target = document.getElementById(button.getAttribute("data-toggle"));
  if (!target) return;
  var open = target.classList.toggle("open");
  button.setAttribute("aria-expanded", open ? "true" : "false");
});

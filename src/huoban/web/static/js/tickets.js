// Service desk forms, without inline scripts (the CSP forbids them): pick a division from the region
// search results into the site code field, and keep Enter in the search box from sending the form.
document.addEventListener("click", function (event) {
  var link = event.target.closest(".region-picker a[href^='/regions/']");
  if (!link) return;
  var picker = link.closest(".region-picker");
  var target = document.getElementById(picker.getAttribute("data-region-target"));
  if (!target) return;
  event.preventDefault();
  target.value = link.getAttribute("href").split("/").pop();
  var label = document.getElementById(picker.getAttribute("data-region-name"));
  var row = link.closest("tr");
  if (label && row && row.cells.length > 1) label.textContent = row.cells[1].textContent.trim();
  picker.querySelector(".picker-results").innerHTML = "";
  picker.querySelector("input[type=search]").value = "";
  target.focus();
});
document.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && event.target.closest && event.target.closest(".region-picker")) {
    event.preventDefault();
  }
});

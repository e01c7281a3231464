// Engagement forms, without inline scripts (the CSP forbids them): "add a row" copies the last row of a
// repeating part (requirement items, consultation participants) with the next index and empty fields.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-add-row]");
  if (!button) return;
  var box = document.getElementById(button.getAttribute("data-add-row"));
  if (!box) return;
  var holder = box.tBodies ? box.tBodies[0] : box;
  var rows = holder.children;
  if (!rows.length) return;
  var last = rows[rows.length - 1];
  var copy = last.cloneNode(true);
  var next = rows.length;
  copy.querySelectorAll("[name]").forEach(function (field) {
    field.name = field.name.replace(/^(items|people)-\d+-/, "$1-" + next + "-");
    if (field.tagName === "SELECT") field.selectedIndex = field.name.endsWith("-priority") ? 1 : 0;
    else if (field.type === "checkbox") field.checked = false;
    else field.value = "";
  });
  copy.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
  if (copy.hasAttribute("data-row")) copy.setAttribute("data-row", String(next));
  holder.appendChild(copy);
  var first = copy.querySelector("input:not([type=hidden]), textarea");
  if (first) first.focus();
});

// "Move up" / "Move down" on a requirement item: swap the row with its neighbour and number every row again
// in the order shown, so the form posts the items in that order and the saved version keeps it.
function renumberRows(holder) {
  Array.prototype.forEach.call(holder.children, function (row, index) {
    row.querySelectorAll("[name]").forEach(function (field) {
      field.name = field.name.replace(/^(items|people)-\d+-/, "$1-" + index + "-");
    });
    if (row.hasAttribute("data-row")) row.setAttribute("data-row", String(index));
  });
}

document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-move]");
  if (!button) return;
  var row = button.closest(".item-row");
  if (!row) return;
  var up = button.getAttribute("data-move") === "up";
  var other = up ? row.previousElementSibling : row.nextElementSibling;
  if (!other) return;
  row.parentNode.insertBefore(up ? row : other, up ? other : row);
  renumberRows(row.parentNode);
  button.focus();
});

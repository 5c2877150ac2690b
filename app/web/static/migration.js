// The studio's migration pages: the number of selected instances on the "Migrate N selected" button,
// and a progress view that reloads itself while its batch runs (data-refresh-seconds).
(function () {
  "use strict";
  const form = document.querySelector("[data-migration-form]");
  if (form) {
    const count = form.querySelector("[data-selected-count]");
    const update = () => {
      count.textContent = String(form.querySelectorAll('input[name="instance_id"]:checked').length);
    };
    form.addEventListener("change", update);
    update();
  }
  const progress = document.querySelector("[data-refresh-seconds]");
  if (progress) {
    const seconds = Number(progress.getAttribute("data-refresh-seconds")) || 2;
    window.setTimeout(() => window.location.reload(), seconds * 1000);
  }
})();

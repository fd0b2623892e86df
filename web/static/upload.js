// Uploads a report with a progress bar. Without this script the form posts
// as usual; with it the same request goes through XMLHttpRequest so that
// the bytes sent can be shown while a large report travels.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("import");
  var bar = document.getElementById("upload-progress");
  var label = document.getElementById("upload-status");
  if (!form || !bar || !window.FormData) {
    return;
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    xhr.upload.addEventListener("progress", function (p) {
      if (p.lengthComputable) {
        bar.max = p.total;
        bar.value = p.loaded;
        label.textContent = "Uploading: " + Math.floor(100 * p.loaded / p.total) + "% of " + (p.total / 1048576).toFixed(1) + " MB";
      }
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = bar.max;
      label.textContent = "Uploaded; importing in one transaction…";
    });
    xhr.addEventListener("load", function () {
      // The server answers with the register page showing the summary or
      // the error: show it as a normal form post would.
      document.open();
      document.write(xhr.responseText);
      document.close();
      // The page is redrawn where the form was, at its bottom: bring its
      // outcome (the summary or the error) to the eye.
      var outcome = document.getElementById("imported") || document.querySelector("main .error");
      if (outcome) {
        outcome.tabIndex = -1;
        outcome.scrollIntoView({block: "center"});
        outcome.focus({preventScroll: true});
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      label.textContent = "The upload failed: the connection was lost.";
    });
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
  });
});

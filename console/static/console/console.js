/* The console's one script: copy buttons (`<button data-copy="#id">`) for secrets shown once.
   The clipboard API needs a secure context (HTTPS, or localhost); elsewhere the text is
   selected and the browser's older copy command is tried. */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const source = document.querySelector(button.dataset.copy);
      const status = document.querySelector(button.dataset.copyStatus || "#none");
      const text = source.textContent.trim();
      let copied = false;
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch (error) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        copied = document.execCommand && document.execCommand("copy");
      }
      if (status) {
        status.textContent = copied ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.";
      }
    });
  }
});

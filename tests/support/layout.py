"""Layout checks for admin pages in a real browser: overflow, hidden columns, headings, CSS.

Each check runs in the page (Playwright's `page.evaluate`) and returns what is
wrong as a list of strings, empty when all is well, so a failure names the
element.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.processes import ROOT

SCREENSHOTS = Path(os.environ.get("TAOS_SCREENSHOTS", ROOT / "var" / "screenshots"))

# Elements whose right edge passes the viewport's, unless an ancestor clips them
# (overflow other than visible) inside the viewport: a scrolling table is fine,
# a page wider than the window is not.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wrong = [];
  if (document.documentElement.scrollWidth > width + 1) {
    wrong.push(`page is ${document.documentElement.scrollWidth}px wide in a ${width}px window`);
  }
  const clippedInside = (element) => {
    for (let node = element.parentElement; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== "visible" || style.overflow === "hidden") {
        return node.getBoundingClientRect().right <= width + 1;
      }
    }
    return false;
  };
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (getComputedStyle(element).visibility === "hidden") continue;
    if (box.right > width + 1 && !clippedInside(element)) {
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
        (element.className && typeof element.className === "string"
          ? "." + element.className.trim().split(/\\s+/).join(".") : "");
      wrong.push(`${name} ends at ${Math.round(box.right)}px, past the ${width}px window`);
    }
  }
  return wrong.slice(0, 10);
}"""

# Every column of a change list is visible: left of the filter panel, and inside
# the list's own box (not scrolled out of view).
COLUMNS_JS = """() => {
  const wrong = [];
  const filter = document.querySelector("#changelist-filter");
  const results = document.querySelector("#changelist-form .results");
  if (!results) return wrong;
  const visibleRight = results.getBoundingClientRect().right;
  for (const th of document.querySelectorAll("#result_list thead th")) {
    const box = th.getBoundingClientRect();
    const name = th.className || th.textContent.trim();
    if (filter && box.right > filter.getBoundingClientRect().left + 1) {
      wrong.push(`column ${name} ends at ${Math.round(box.right)}px, under the filter panel`);
    }
    if (box.right > visibleRight + 1) {
      wrong.push(`column ${name} ends at ${Math.round(box.right)}px, out of the list's ` +
                 `${Math.round(visibleRight)}px`);
    }
  }
  return wrong;
}"""

# A module's heading is one bar: a taller box means it runs behind something else
# (a panel after a floating form: the "empty blue bar").
HEADINGS_JS = """() => {
  const wrong = [];
  for (const heading of document.querySelectorAll(".module h2, .module caption")) {
    const box = heading.getBoundingClientRect();
    if (box.height > 80) {
      wrong.push(`heading "${heading.textContent.trim()}" is ${Math.round(box.height)}px tall`);
    }
  }
  return wrong;
}"""

# The admin's stylesheets are linked and applied (the header has its colour),
# and the console's own stylesheet is loaded.
CSS_JS = r"""() => {
  const wrong = [];
  const sheets = [...document.styleSheets].map((sheet) => sheet.href || "");
  // Hashed names in production storage: admin/css/base.<hash>.css.
  for (const [name, pattern] of [["admin/css/base.css", /\/admin\/css\/base(\.[0-9a-f]+)?\.css$/],
                                 ["console/console.css", /\/console\/console(\.[0-9a-f]+)?\.css$/]]) {
    if (!sheets.some((href) => pattern.test(href))) wrong.push(`${name} not loaded`);
  }
  const header = document.querySelector("#header");
  if (!header) {
    wrong.push("no admin header");
  } else {
    const colour = getComputedStyle(header).backgroundColor;
    if (colour === "rgba(0, 0, 0, 0)" || colour === "transparent") wrong.push("header unstyled");
  }
  return wrong;
}"""

# The body's background brightness (0 black .. 1 white): light or dark mode applied.
BRIGHTNESS_JS = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


def layout_problems(page) -> list[str]:
    """Return what is wrong with the page's layout: overflow, hidden columns, missing CSS."""
    return [*page.evaluate(OVERFLOW_JS), *page.evaluate(COLUMNS_JS),
            *page.evaluate(HEADINGS_JS), *page.evaluate(CSS_JS)]


def brightness(page) -> float:
    return page.evaluate(BRIGHTNESS_JS)


def save_screenshot(page, name: str) -> Path:
    """Save the page as var/screenshots/<name>.png (TAOS_SCREENSHOTS) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

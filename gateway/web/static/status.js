// The status page's script: follows the gateway without reloading the page, and runs the test scan.
// Everything shown comes as text or as HTML the gateway escaped; nothing is built from strings here.
"use strict";

(function () {
  const seconds = Number(document.body.dataset.pollSeconds) || 3;

  function clock() {
    return new Date().toTimeString().slice(0, 8);
  }

  // The live part: replaced only when it changed, so that a screen reader is not told the same again.
  async function refresh() {
    try {
      const answer = await fetch("/live", { cache: "no-store" });
      if (answer.ok) {
        const html = await answer.text();
        const live = document.getElementById("live");
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (live && fresh && live.innerHTML !== fresh.innerHTML) {
          live.replaceWith(fresh);
        }
        document.getElementById("updated").textContent = clock();
      }
    } catch (e) {
      document.getElementById("updated").textContent = clock() + " (the gateway does not answer)";
    }
    setTimeout(refresh, seconds * 1000);
  }

  // The test scan form: each scanner's sources, and each source's modes and resolutions.
  const form = document.getElementById("scan-form");
  if (form) {
    const offered = JSON.parse(form.dataset.options);
    const field = (name) => document.getElementById("scan-" + name);
    const status = document.getElementById("scan-status");

    function fill(select, values, preferred) {
      const before = select.value;
      select.replaceChildren(...values.map(([value, text]) => new Option(text, value)));
      const keep = values.find(([v]) => v === before) || values.find(([v]) => v === preferred);
      if (keep) select.value = keep[0];
    }

    function sourceChanged() {
      const scanner = offered[field("scanner").value];
      const source = scanner.sources[field("source").value];
      fill(field("mode"), source.modes.map((m) => [m, m]), "RGB24");
      const dpi = source.resolutions.map((r) => [String(r), String(r)]);
      const near = source.resolutions.reduce((a, b) => (Math.abs(b - 150) < Math.abs(a - 150) ? b : a));
      fill(field("resolution"), dpi, String(near));
    }

    function scannerChanged() {
      const scanner = offered[field("scanner").value];
      fill(field("source"), Object.keys(scanner.sources).map((s) => [s, s]));
      fill(field("format"), scanner.formats.map((f) => [f.value, f.label]));
      sourceChanged();
    }

    field("scanner").addEventListener("change", scannerChanged);
    field("source").addEventListener("change", sourceChanged);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = document.getElementById("scan-button");
      const result = document.getElementById("scan-result");
      const wanted = {};
      for (const name of ["scanner", "source", "mode", "resolution", "format"]) {
        wanted[name] = field(name).value;
      }
      wanted.resolution = Number(wanted.resolution);
      button.disabled = true;
      status.className = "";
      status.textContent = "Scanning…";
      try {
        const answer = await fetch("/test-scan", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(wanted),
        });
        const body = await answer.json();
        if (!answer.ok) {
          status.className = "error";
          status.textContent = "The test scan did not work: " + body.error;
          return;
        }
        const preview = document.getElementById("scan-preview");
        if (body.preview) {
          preview.src = body.image;
          preview.hidden = false;
        } else {
          preview.removeAttribute("src");
          preview.hidden = true;
        }
        const link = document.getElementById("scan-download");
        link.href = body.download;
        link.download = body.filename;
        link.textContent = "Download " + body.filename;
        result.hidden = false;
        status.textContent = "Scanned " + body.width + " × " + body.height + " pixels (" +
          Math.ceil(body.bytes / 1024) + " KiB) on " + body.scanner + ".";
      } catch (e) {
        status.className = "error";
        status.textContent = "The test scan did not work: the gateway did not answer (" + e + ")";
      } finally {
        button.disabled = false;
      }
    });
  }

  setTimeout(refresh, seconds * 1000);
})();

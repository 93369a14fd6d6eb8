/// The console's stylesheet and its one script (the auto-refresh), served from the binary.
enum ConsoleAssets {
    static let css = """
        :root { color-scheme: light; --fg: #1d2329; --muted: #5b6770; --line: #d5dbe0; --accent: #1f5fa8; --bad: #a61b1b; --good: #1b7f3b; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", sans-serif; color: var(--fg); background: #f6f8fa; }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus { outline: 3px solid #f0b429; outline-offset: 1px; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 8px; top: 8px; background: #fff; padding: 6px; z-index: 2; }
        .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        header.top { display: flex; flex-wrap: wrap; gap: 12px 20px; align-items: center; padding: 10px 20px; background: #12263a; color: #fff; }
        header.top a { color: #fff; }
        header.top .brand { font-weight: 700; margin: 0; }
        header.top nav ul { display: flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; margin: 0; padding: 0; }
        header.top nav a[aria-current="page"] { font-weight: 700; text-decoration: underline 3px; }
        header.top form { display: flex; gap: 6px; align-items: center; margin: 0; }
        header.top .signout { margin-left: auto; }
        main { padding: 16px 20px 40px; max-width: 1200px; }
        h1 { font-size: 1.5rem; margin: 0 0 12px; }
        h2 { font-size: 1.15rem; margin: 24px 0 8px; }
        table { border-collapse: collapse; width: 100%; background: #fff; margin: 6px 0 12px; }
        caption { text-align: left; color: var(--muted); padding: 4px 0; }
        th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
        thead th { background: #eef2f5; }
        .card, .filters { background: #fff; border: 1px solid var(--line); padding: 10px 16px; margin: 8px 0 16px; max-width: 760px; }
        .filters { display: flex; flex-wrap: wrap; gap: 0 16px; align-items: flex-end; max-width: none; }
        label { display: block; font-weight: 600; margin-bottom: 2px; }
        header.top label { display: inline; }
        input, select, textarea { font: inherit; padding: 4px 6px; border: 1px solid #8a959e; border-radius: 3px; }
        textarea { width: 100%; font-family: ui-monospace, monospace; }
        .card input:not([type=checkbox]) { width: 100%; }
        button { font: inherit; padding: 5px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 3px; cursor: pointer; }
        button.danger { background: var(--bad); border-color: var(--bad); }
        header.top button { background: transparent; border-color: #fff; }
        .notice { background: #e3f4e8; border-left: 4px solid var(--good); padding: 8px 12px; }
        .problem { background: #fbe7e7; border-left: 4px solid var(--bad); padding: 8px 12px; }
        .chart { width: 100%; max-width: 760px; height: auto; background: #fff; border: 1px solid var(--line); }
        progress { width: 120px; vertical-align: middle; }
        pre { background: #0f1720; color: #e6edf3; padding: 10px; overflow-x: auto; font-size: 13px; }
        .record { background: #fff; border: 1px solid var(--line); padding: 6px 14px; margin: 8px 0; }
        .record dl, dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; }
        dt { font-weight: 600; }
        dd { margin: 0; word-break: break-all; }
        .state-ok, .outcome-delivered { color: var(--good); }
        .state-paused, .state-alarm, .outcome-failed, .outcome-tokeninvalid { color: var(--bad); font-weight: 600; }
        .hint { color: var(--muted); flex-basis: 100%; }

        """

    /// Pages that carry `data-refresh` reload themselves every that many seconds, unless the
    /// operator is typing in a field of the page. Nothing else needs JavaScript.
    static let js = """
        (function () {
          var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
          if (!(seconds > 0)) { return; }
          setInterval(function () {
            var active = document.activeElement;
            if (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) { return; }
            window.location.reload();
          }, seconds * 1000);
        })();

        """
}

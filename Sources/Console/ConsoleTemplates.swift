import Mustache

/// The console's pages as Mustache templates (HTML-escaped `{{…}}`; `{{{…}}}` only for markup the
/// console drew itself: the chart). Kept in the binary, so the deployable tarball needs no
/// resource folder.
enum ConsoleTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in pages { try library.register(text, named: name) }
        return library
    }

    static let pages: [(String, String)] = [
        ("header", header), ("footer", footer), ("signin", signIn), ("overview", overview), ("campaigns", campaigns),
        ("confirm", confirm), ("deadletters", deadLetters), ("lookup", lookup), ("devices", devices), ("config", config),
        ("testpush", testPush), ("error", error),
    ]

    static let header = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · pushd console</title>
        <link rel="stylesheet" href="/console/static/console.css">
        <script src="/console/static/console.js" defer></script>
        </head>
        <body{{#refresh}} data-refresh="{{refresh}}"{{/refresh}}>
        <a class="skip" href="#main">Skip to the content</a>
        <header class="top">
        <p class="brand">pushd console</p>
        {{#signedIn}}
        <nav aria-label="Pages"><ul>
        {{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/nav}}
        </ul></nav>
        <form method="get" action="{{path}}" class="app-picker">
        <label for="app-picker">App</label>
        <select id="app-picker" name="app">{{#apps}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{id}}{{#named}} · {{name}}{{/named}}</option>{{/apps}}</select>
        <button type="submit">Show</button>
        </form>
        <form method="post" action="/console/signout" class="signout">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Sign out ({{who}})</button>
        </form>
        {{/signedIn}}
        </header>
        <main id="main">
        <h1>{{title}}</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#problem}}<p class="problem" role="alert">{{problem}}</p>{{/problem}}

        """

    static let footer = """
        </main>
        </body>
        </html>

        """

    static let error = """
        {{> header}}
        <p><a href="/console/overview">Back to the overview</a></p>
        {{> footer}}
        """

    static let signIn = """
        {{> header}}
        <form method="post" action="/console/signin" class="card">
        <h2>As an app's admin</h2>
        <p>The app's admin identifier and a UserSig made with the app's key (<code>pushd usersig</code>). You see that app only.</p>
        <p><label for="sdkappid">SDKAppID</label><input id="sdkappid" name="sdkappid" inputmode="numeric" autocomplete="off" value="{{sdkappid}}"></p>
        <p><label for="identifier">Admin identifier</label><input id="identifier" name="identifier" autocomplete="username" value="{{identifier}}"></p>
        <p><label for="usersig">UserSig</label><input id="usersig" name="usersig" type="password" autocomplete="off"></p>
        <p><button type="submit" name="method" value="usersig">Sign in with UserSig</button></p>
        </form>
        {{#passwordEnabled}}
        <form method="post" action="/console/signin" class="card">
        <h2>With the console password</h2>
        <p>Set by the operator in <code>PUSHD_CONSOLE_PASSWORD</code>. You see every app.</p>
        <p><label for="password">Console password</label><input id="password" name="password" type="password" autocomplete="current-password"></p>
        <p><button type="submit" name="method" value="password">Sign in with the password</button></p>
        </form>
        {{/passwordEnabled}}
        {{> footer}}
        """

    static let overview = """
        {{> header}}
        <section aria-labelledby="queue-h">
        <h2 id="queue-h">Queue</h2>
        <table>
        <caption>Jobs of app {{app}} by lane</caption>
        <thead><tr><th scope="col">Lane</th><th scope="col">Pending</th><th scope="col">Ready now</th><th scope="col">Oldest ready job</th></tr></thead>
        <tbody>{{#lanes}}<tr><th scope="row">{{lane}}</th><td>{{pending}}</td><td>{{ready}}</td><td>{{oldest}}</td></tr>{{/lanes}}</tbody>
        </table>
        <p><a href="/console/dead-letters?app={{app}}">Dead letters of this app: {{deadLetters}}</a></p>
        </section>
        <section aria-labelledby="chart-h">
        <h2 id="chart-h">Sends per second, last hour</h2>
        {{{chart}}}
        <table>
        <caption>Sends in the last hour by vendor and outcome</caption>
        <thead><tr><th scope="col">Line</th><th scope="col">Vendor</th><th scope="col">Outcome</th><th scope="col">Sends</th></tr></thead>
        <tbody>
        {{#legend}}<tr><td><svg width="14" height="14" aria-hidden="true"><rect width="14" height="14" fill="{{color}}"/></svg></td><td>{{vendor}}</td><td>{{outcome}}</td><td>{{total}}</td></tr>{{/legend}}
        {{^legend}}<tr><td colspan="4">No sends in the last hour.</td></tr>{{/legend}}
        </tbody>
        </table>
        </section>
        <section aria-labelledby="vendors-h">
        <h2 id="vendors-h">Vendors</h2>
        <table>
        <thead><tr><th scope="col">Vendor</th><th scope="col">State</th><th scope="col">Why</th></tr></thead>
        <tbody>
        {{#vendors}}<tr><th scope="row">{{vendor}}</th><td class="state-{{stateClass}}">{{state}}</td><td>{{why}}</td></tr>{{/vendors}}
        {{^vendors}}<tr><td colspan="3">No vendor is configured for this app.</td></tr>{{/vendors}}
        </tbody>
        </table>
        </section>
        <section aria-labelledby="errors-h">
        <h2 id="errors-h">Last errors</h2>
        <table>
        <thead><tr><th scope="col">Time (UTC)</th><th scope="col">Vendor</th><th scope="col">Outcome</th><th scope="col">Reason</th></tr></thead>
        <tbody>
        {{#failures}}<tr><td>{{time}}</td><td>{{vendor}}</td><td>{{outcome}}</td><td>{{reason}}</td></tr>{{/failures}}
        {{^failures}}<tr><td colspan="4">No failed send since pushd started.</td></tr>{{/failures}}
        </tbody>
        </table>
        </section>
        {{> footer}}
        """

    static let campaigns = """
        {{> header}}
        <p>Campaigns of app {{app}} in the last 30 days, newest first. This page refreshes itself every few seconds.</p>
        <table class="campaigns">
        <thead><tr><th scope="col">Task</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Users selected</th>
        <th scope="col">Sent</th><th scope="col">Delivered</th><th scope="col">Failed</th><th scope="col">Rate</th><th scope="col">ETA</th><th scope="col">Started (UTC)</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>
        {{#campaigns}}
        <tr data-task="{{task}}">
        <th scope="row">{{task}}</th>
        <td>{{state}}</td>
        <td><progress max="100" value="{{percent}}" aria-label="Progress of {{task}}">{{percent}} %</progress> <span class="percent">{{percent}} %</span></td>
        <td>{{users}}</td><td>{{sent}}</td><td>{{delivered}}</td><td>{{failed}}</td><td>{{rate}}</td><td>{{eta}}</td><td>{{started}}</td>
        <td>{{#cancellable}}<a href="/console/campaigns/cancel?app={{app}}&amp;task={{task}}">Cancel…</a>{{/cancellable}}</td>
        </tr>
        {{/campaigns}}
        {{^campaigns}}<tr><td colspan="11">No campaign in the last 30 days.</td></tr>{{/campaigns}}
        </tbody>
        </table>
        {{> footer}}
        """

    /// A confirmation before an action that cannot be undone; works without JavaScript.
    static let confirm = """
        {{> header}}
        <form method="post" action="{{action}}" class="card">
        <p>{{question}}</p>
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{#fields}}<input type="hidden" name="{{name}}" value="{{value}}">{{/fields}}
        <p><button type="submit" class="danger">{{confirmLabel}}</button> <a href="{{back}}">Keep it</a></p>
        </form>
        {{> footer}}
        """

    static let deadLetters = """
        {{> header}}
        <form method="get" action="/console/dead-letters" class="filters">
        <input type="hidden" name="app" value="{{app}}">
        <p><label for="f-vendor">Vendor</label><select id="f-vendor" name="vendor"><option value="">any</option>{{#vendorOptions}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/vendorOptions}}</select></p>
        <p><label for="f-reason">Reason contains</label><input id="f-reason" name="reason" value="{{reason}}"></p>
        <p><label for="f-since">Died since (UTC)</label><input id="f-since" name="since" type="datetime-local" value="{{since}}"></p>
        <p><label for="f-until">Died before (UTC)</label><input id="f-until" name="until" type="datetime-local" value="{{until}}"></p>
        <p><button type="submit">Filter</button></p>
        </form>
        <form method="post" action="/console/dead-letters" class="letters">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="app" value="{{app}}">
        <input type="hidden" name="vendor" value="{{vendor}}">
        <input type="hidden" name="reason" value="{{reason}}">
        <input type="hidden" name="since" value="{{since}}">
        <input type="hidden" name="until" value="{{until}}">
        <p>{{matching}} dead letters match{{#truncated}} (the newest {{shown}} are listed){{/truncated}}.</p>
        <table>
        <thead><tr><th scope="col"><span class="sr">Select</span></th><th scope="col">Id</th><th scope="col">Died (UTC)</th><th scope="col">User</th><th scope="col">Device</th><th scope="col">Vendor</th><th scope="col">Token</th><th scope="col">Attempts</th><th scope="col">Last error</th></tr></thead>
        <tbody>
        {{#letters}}<tr><td><input type="checkbox" name="id" value="{{id}}" id="dl-{{id}}" aria-label="Select dead letter {{id}}"></td><td><label for="dl-{{id}}">{{id}}</label></td><td>{{time}}</td><td>{{user}}</td><td>{{device}}</td><td>{{vendor}}</td><td>…{{tokenTail}}</td><td>{{attempts}}</td><td>{{error}}</td></tr>{{/letters}}
        {{^letters}}<tr><td colspan="9">No dead letter matches.</td></tr>{{/letters}}
        </tbody>
        </table>
        <p>
        <button type="submit" name="do" value="replay-selected">Replay selected</button>
        <button type="submit" name="do" value="replay-all">Replay all matching</button>
        <button type="submit" name="do" value="purge-selected" class="danger">Purge selected…</button>
        <button type="submit" name="do" value="purge-all" class="danger">Purge all matching…</button>
        </p>
        </form>
        {{> footer}}
        """

    static let lookup = """
        {{> header}}
        <form method="get" action="/console/lookup" class="filters">
        <input type="hidden" name="app" value="{{app}}">
        <p><label for="l-msgkey">MsgKey</label><input id="l-msgkey" name="msgkey" value="{{msgkey}}"></p>
        <p><label for="l-taskid">TaskId</label><input id="l-taskid" name="taskid" value="{{taskid}}"></p>
        <p><label for="l-user">User</label><input id="l-user" name="user" value="{{user}}"></p>
        <p><button type="submit">Look up</button></p>
        <p class="hint">A MsgKey alone; a TaskId with a user; or a user alone for their latest pushes.</p>
        </form>
        {{#searched}}
        {{#jobs}}
        <section class="job">
        <h2>Job <code>{{key}}</code></h2>
        <p>{{status}}</p>
        {{#empty}}<p>No push record yet.</p>{{/empty}}
        {{#dead}}
        <article class="record">
        <h3>{{device}} · {{vendor}} · <span class="outcome-failed">Dead letter {{id}}</span></h3>
        <dl>
        <dt>Token</dt><dd>…{{tokenTail}}</dd>
        <dt>Last error</dt><dd>{{error}}</dd>
        <dt>Attempts</dt><dd>{{attempts}}</dd>
        <dt>Died (UTC)</dt><dd>{{time}}</dd>
        </dl>
        <p><a href="/console/dead-letters?app={{app}}">Replay it from the dead letters</a></p>
        </article>
        {{/dead}}
        {{#records}}
        <article class="record">
        <h3>{{device}} · {{vendor}} · <span class="outcome-{{outcomeClass}}">{{outcome}}</span></h3>
        <dl>
        <dt>User</dt><dd>{{user}}</dd>
        <dt>Token</dt><dd>…{{tokenTail}}</dd>
        <dt>Reason</dt><dd>{{reason}}</dd>
        <dt>Vendor message id</dt><dd>{{vendorMessageID}}</dd>
        <dt>Attempts</dt><dd>{{attempts}}</dd>
        <dt>Time (UTC)</dt><dd>{{time}}</dd>
        </dl>
        <details{{#requestOpen}} open{{/requestOpen}}><summary>{{requestLabel}}</summary><pre>{{request}}</pre></details>
        </article>
        {{/records}}
        </section>
        {{/jobs}}
        {{^jobs}}<p>Nothing found.</p>{{/jobs}}
        {{/searched}}
        {{> footer}}
        """

    static let devices = """
        {{> header}}
        <form method="get" action="/console/devices" class="filters">
        <input type="hidden" name="app" value="{{app}}">
        <p><label for="d-user">User</label><input id="d-user" name="user" value="{{user}}"></p>
        <p><button type="submit">Show devices</button></p>
        </form>
        {{#searched}}
        <table>
        <thead><tr><th scope="col">Device</th><th scope="col">Vendor</th><th scope="col">Token</th><th scope="col">Locale</th><th scope="col">State</th><th scope="col">Unread (badge)</th><th scope="col">Invalidated (UTC)</th></tr></thead>
        <tbody>
        {{#devices}}<tr><th scope="row">{{device}}</th><td>{{vendor}}</td><td>…{{tokenTail}}</td><td>{{locale}}</td><td>{{state}}</td><td>{{badge}}</td><td>{{invalidated}}</td></tr>{{/devices}}
        {{^devices}}<tr><td colspan="7">This user has no device.</td></tr>{{/devices}}
        </tbody>
        </table>
        <p><a href="/console/test-push?app={{app}}&amp;user={{user}}">Send a test push to {{user}}</a> · <a href="/console/lookup?app={{app}}&amp;user={{user}}">Their latest pushes</a></p>
        {{/searched}}
        {{> footer}}
        """

    static let config = """
        {{> header}}
        <p>The running configuration of app {{app}}, read-only. Secrets are masked; a masked value shows only whether it is set.</p>
        <dl class="settings">
        {{#settings}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/settings}}
        </dl>
        {{#vendors}}
        <section>
        <h2>{{vendor}}</h2>
        <p>Channel: <strong>{{channel}}</strong> · Category: <strong>{{category}}</strong></p>
        <table>
        <thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
        <tbody>{{#fields}}<tr><th scope="row">{{name}}</th><td>{{value}}</td></tr>{{/fields}}</tbody>
        </table>
        </section>
        {{/vendors}}
        {{^vendors}}<p>No vendor is configured for this app.</p>{{/vendors}}
        {{> footer}}
        """

    static let testPush = """
        {{> header}}
        <form method="post" action="/console/test-push" class="card">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="app" value="{{app}}">
        <p><label for="t-user">User</label><input id="t-user" name="user" value="{{user}}" required></p>
        <p><label for="t-device">Device (empty: every device of the user)</label><input id="t-device" name="device" value="{{device}}"></p>
        <p><label for="t-text">Message text</label><input id="t-text" name="text" value="{{text}}"></p>
        <details{{#advanced}} open{{/advanced}}><summary>Or paste a MsgBody and OfflinePushInfo</summary>
        <p><label for="t-msgbody">MsgBody (JSON; wins over the text)</label><textarea id="t-msgbody" name="msgbody" rows="5">{{msgbody}}</textarea></p>
        <p><label for="t-offline">OfflinePushInfo (JSON)</label><textarea id="t-offline" name="offline" rows="5">{{offline}}</textarea></p>
        </details>
        <p><button type="submit" name="do" value="preview">Preview</button> <button type="submit" name="do" value="send">Send</button></p>
        </form>
        {{#hasPreviews}}<h2>Preview</h2>
        <p class="hint">Rendered now with the app's settings and each device's locale and current badge; a message that counts as unread raises the badge by one when it is queued. The vendor's auth header is added at send time and never shown.</p>{{/hasPreviews}}
        {{#previews}}
        <section class="preview">
        <h3>{{title}}</h3>
        <pre>{{body}}</pre>
        </section>
        {{/previews}}
        {{> footer}}
        """
}

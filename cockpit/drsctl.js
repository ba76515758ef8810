// SPDX-License-Identifier: LGPL-2.1-or-later
// The page's only way into drsd: `drsctl --json …`, run by cockpit-bridge as the logged-in
// user. drsd checks that user's credentials on its socket (SO_PEERCRED: root or the admin
// group), so the page can never do more than the same user could in a shell.

/* global cockpit */

// What kind of failure a drsctl run was, for the page to explain it.
export const Denied = "denied"; // drsd (or the socket's permissions) refused this user
export const Unreachable = "unreachable"; // no drsd at the socket
export const Missing = "missing"; // no drsctl on this host
export const Failed = "failed"; // drsd answered with an error (refused, bad input, internal)

// The last line drsctl writes to stderr is its message ("drsctl: drs.Error: text").
function lastLine(text) {
    const lines = (text || "").trim().split("\n").filter(l => l.trim() !== "");
    return lines.length ? lines[lines.length - 1].replace(/^drsctl: /, "") : "";
}

function classify(status, stderr, problem) {
    if (problem === "not-found")
        return Missing;
    if (problem)
        return Failed;
    if (/drs\.PermissionDenied|Permission denied/.test(stderr))
        return Denied;
    if (status === 3 && /cannot talk to drsd/.test(stderr))
        return Unreachable;
    return Failed;
}

// run(["status"]) → { ok, status, data, message, kind }. Never rejects: data is the parsed
// JSON of stdout when there is one (evacuate --dry-run exits 1 with a plan when a VM cannot
// leave), message drsctl's last stderr line, kind one of the constants above on failure.
export function run(args) {
    return new Promise(resolve => {
        const done = (status, out, err, problem) => {
            let data = null;
            try {
                data = out && out.trim() ? JSON.parse(out) : null;
            } catch (e) {
                data = null;
            }
            resolve({
                ok: status === 0,
                status,
                data,
                message: problem ? cockpit.message({ problem }) : lastLine(err),
                kind: status === 0 ? null : classify(status, err, problem),
            });
        };
        cockpit.spawn(["drsctl", "--json", ...args], { err: "message" })
                .then((out, err) => done(0, out, err, null),
                      (ex, out) => done(ex.exit_status ?? -1, out, ex.message, ex.problem));
    });
}

// The command a shell user would type for the same thing (shown next to actions).
export function commandLine(args) {
    return ["drsctl", ...args].join(" ");
}

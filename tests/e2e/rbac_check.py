#!/usr/bin/env python3
"""Checks recorded API requests against the RBAC rules of rendered manifests.

Usage:
  rbac_check.py --manifests RENDERED.yaml --audit AUDIT.log --user USERNAME
                [--cannot-exercise 'GROUP/RESOURCE[/SUB]:VERB=REASON' ...]

RENDERED.yaml is `kubectl kustomize manifests/`; AUDIT.log is devcluster's --audit-log-path
file (audit.k8s.io/v1 Events, one per line). For USERNAME (with the groups each of its
requests carries) it evaluates every recorded request as Kubernetes' RBAC authorizer does
(ClusterRoleBindings grant everywhere, RoleBindings in their namespace only; apiGroups,
resources with subresources, verbs, resourceNames, "*"), plus what a Kubernetes cluster grants
every authenticated user by default (the bootstrap ClusterRoles system:discovery and
system:public-info-viewer: discovery, /version, health), and reports:
  - every distinct request that no rule allows (a missing permission);
  - every rule (role, apiGroup, resource, verb) that no request used (a permission too many),
    unless it is listed with --cannot-exercise and a reason.
Exit status 0 when both lists are empty, 1 otherwise, 2 on bad input.
"""

import argparse
import fnmatch
import json
import sys

import yaml

# Bootstrap policy (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy): bound
# to system:authenticated in every cluster.
DEFAULT_NON_RESOURCE_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*",
                             "/version", "/version/", "/healthz", "/livez", "/readyz"]


def load_manifests(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def subject_matches(subject, username, groups):
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return username == "system:serviceaccount:%s:%s" % (subject.get("namespace", ""),
                                                             subject.get("name", ""))
    if kind == "User":
        return username == subject.get("name")
    if kind == "Group":
        return subject.get("name") in groups
    return False


def grants(docs, username, groups):
    """(role id, namespace or None for cluster-wide, rule) the user holds."""
    roles = {}
    for d in docs:
        if d["kind"] in ("ClusterRole", "Role"):
            key = (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
            roles[key] = d.get("rules") or []
    out = []
    for d in docs:
        if d["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(subject_matches(s, username, groups) for s in d.get("subjects") or []):
            continue
        ref = d["roleRef"]
        ns = d["metadata"].get("namespace") if d["kind"] == "RoleBinding" else None
        role_ns = ns if ref["kind"] == "Role" else None
        key = (ref["kind"], role_ns, ref["name"])
        if key not in roles:
            raise SystemExit("rbac_check: %s %s refers to %s %s, which is not in the manifests"
                             % (d["kind"], d["metadata"]["name"], ref["kind"], ref["name"]))
        role_id = "%s %s%s" % (ref["kind"], (role_ns + "/") if role_ns else "", ref["name"])
        for rule in roles[key]:
            out.append((role_id, ns, rule))
    return out


def rule_allows(rule, verb, group, resource, name):
    if "nonResourceURLs" in rule and "resources" not in rule:
        return False
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    api_groups = rule.get("apiGroups") or []
    if "*" not in api_groups and group not in api_groups:
        return False
    resources = rule.get("resources") or []
    if "*" not in resources and resource not in resources:
        # "pods/*" grants every subresource of pods, "*/scale" a subresource of every resource
        if not any("/" in r and fnmatch.fnmatchcase(resource, r) for r in resources):
            return False
    names = rule.get("resourceNames") or []
    if names and name not in names:
        return False
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifests", required=True)
    p.add_argument("--audit", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--cannot-exercise", action="append", default=[],
                   help="GROUP/RESOURCE[/SUB]:VERB=REASON (GROUP empty for the core group)")
    a = p.parse_args()

    exempt = {}
    for e in a.cannot_exercise:
        key, sep, reason = e.partition("=")
        if not sep or not reason.strip() or ":" not in key:
            print("rbac_check: --cannot-exercise %r: want GROUP/RESOURCE:VERB=REASON" % e, file=sys.stderr)
            return 2
        exempt[key] = reason

    events = []
    with open(a.audit) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError as err:
                print("rbac_check: %s:%d: %s" % (a.audit, n, err), file=sys.stderr)
                return 2
            if ev.get("user", {}).get("username") == a.user:
                events.append(ev)
    if not events:
        print("rbac_check: no request of %s in %s" % (a.user, a.audit), file=sys.stderr)
        return 1

    docs = load_manifests(a.manifests)
    groups = set()
    for ev in events:
        groups.update(ev["user"].get("groups") or [])
    held = grants(docs, a.user, groups)
    if not held:
        print("rbac_check: no binding in %s names %s" % (a.manifests, a.user), file=sys.stderr)
        return 1

    used = set()  # (role id, group, resource, verb)
    denied = {}
    counts = {}
    for ev in events:
        verb = ev["verb"]
        ref = ev.get("objectRef")
        if ref is None:
            path = ev["requestURI"].split("?")[0]
            if any(fnmatch.fnmatchcase(path, u) for u in DEFAULT_NON_RESOURCE_URLS):
                continue
            key = "%s %s (non-resource)" % (verb, path)
            denied[key] = denied.get(key, 0) + 1
            continue
        group = ref.get("apiGroup", "")
        resource = ref["resource"] + ("/" + ref["subresource"] if ref.get("subresource") else "")
        ns = ref.get("namespace")
        name = ref.get("name", "")
        desc = "%s %s%s%s" % (verb, (group + "/") if group else "", resource,
                              (" in " + ns) if ns else " (cluster-wide)")
        counts[desc] = counts.get(desc, 0) + 1
        allowed = False
        for role_id, scope_ns, rule in held:
            if scope_ns is not None and scope_ns != ns:
                continue
            if rule_allows(rule, verb, group, resource, name):
                allowed = True
                used.add((role_id, group, resource, verb))
        if not allowed:
            denied[desc] = denied.get(desc, 0) + 1

    print("requests of %s: %d" % (a.user, len(events)))
    for desc in sorted(counts):
        print("  %5d  %s" % (counts[desc], desc))

    unused = []
    exempted = []
    for role_id, _, rule in held:
        for g in rule.get("apiGroups") or []:
            for r in rule.get("resources") or []:
                for v in rule.get("verbs") or []:
                    if (role_id, g, r, v) in used:
                        continue
                    key = "%s/%s:%s" % (g, r, v)
                    if key in exempt:
                        exempted.append("%s: %s (%s)" % (role_id, key, exempt[key]))
                    else:
                        unused.append("%s: %s %s%s" % (role_id, v, (g + "/") if g else "", r))
    for line in exempted:
        print("not exercised, with a reason: " + line)
    for desc in sorted(denied):
        print("DENIED (no rule allows it): %s (%d times)" % (desc, denied[desc]))
    for line in unused:
        print("UNUSED rule (no request needed it): " + line)
    rule_keys = {"%s/%s:%s" % (g, r, v) for _, _, rule in held for g in rule.get("apiGroups") or []
                 for r in rule.get("resources") or [] for v in rule.get("verbs") or []}
    stale = sorted(k for k in exempt if k not in rule_keys)
    for k in stale:
        print("STALE --cannot-exercise %s: no such rule" % k)
    if denied or unused or stale:
        return 1
    print("every request allowed, every rule used")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Admin: the database check, the audit log, roles granted to team members, deleting a corpus.

Registered in the navigation for admins only; every action below is checked again in core
(`require`), so a crafted request from a non-admin session is refused there too.
"""

import streamlit as st

from core.access.audit import AUDIT_ACTIONS
from core.access.principal import Principal, Role, require
from core.jobs import JOBS
from core.store.check_record import last_check
from core.store.scrub import run_check
from dashboard import admin, auth, i18n, reads, resources, widgets
from dashboard.i18n import _, ngettext
from dashboard.text import literal, literal_table, server_zone

CHECK_JOB = "database-check"  # one per server: a second admin's click joins the running check

st.title("🛡️ " + _("Admin"))
visitor = auth.refuse_unless("read_audit")


def start_check(principal: Principal) -> None:
    """Verify every block and column in a background job (core.store.scrub), admins only."""
    require(principal, "read_audit")
    path = resources.store().path

    def work(progress):
        report = lambda done, total: progress(done, total, f"{done:,}/{total:,} blocks verified")  # noqa: E731
        return run_check(path, report)

    JOBS.start(CHECK_JOB, work)


@st.fragment(run_every=1.0)
def check_progress() -> None:
    """Polls the running check; the page reruns once to show its result."""
    job = JOBS.get(CHECK_JOB)
    state = job.snapshot() if job else None
    if state is None or state.finished:
        st.rerun(scope="app")
    st.progress(state.fraction, i18n.progress(state.stage, state.elapsed_s))


st.header(_("Database check"))
st.caption(_("Verifies every block and every column of the database file (a scrub). Writes check "
             "only the file's headers and length, so run this nightly (README: a cron job or "
             "systemd timer runs `{command}`) and after restoring a backup. A file found damaged "
             "takes no more writes until it is restored or repaired.").format(
    command="python -m core check"))  # fmt: skip
job = JOBS.get(CHECK_JOB)
running = job is not None and not job.snapshot().finished
if running:
    check_progress()
else:
    if job is not None and job.snapshot().error:
        st.error(i18n.error(resources.for_visitor(job.snapshot().error)))
    record = last_check(resources.store().path)
    if record is None:
        st.info(_("No full check of this database file yet."))
    elif record.ok:
        st.success(_("Last full check: {summary}.").format(summary=record.summary()))
    else:
        st.error(_("Last full check: {summary}; writes are refused until the file is restored "
                   "from a backup and checked again: {problems}").format(
            summary=record.summary(), problems=resources.for_visitor("; ".join(record.problems))))  # fmt: skip
    if st.button(_("Check the database now"), key="check-start"):
        widgets.run_safely(lambda: start_check(visitor))
        st.rerun()

st.header(_("Audit log"))
st.caption(_("Who uploaded, ran, exported, deleted or changed roles, and when (server time, "
             "{zone}).").format(zone=server_zone()))  # fmt: skip
left, right = st.columns(2)
limit = left.selectbox(_("Show the newest"), [50, 200, 1000], key="audit-limit")
action = right.selectbox(_("Action"), ["all", *AUDIT_ACTIONS], key="audit-action",
                         format_func=i18n.fixed(lambda a: _("all") if a == "all" else a))  # fmt: skip
log = widgets.run_safely(
    lambda: admin.audit_log(visitor, limit, None if action == "all" else action)
)
if log is not None:
    if log.empty:
        st.info(_("No audit entries yet."))
    else:
        # A plain table, not the canvas grid: its text is in the page (search, copy, print).
        st.table(literal_table(log.set_index("event_id")))

st.header(_("Roles"))
if visitor.open_mode:
    st.warning(_("Sign-in is not configured, so roles have no effect yet: everyone is an admin. "
                 "See README, “Deploying for a team”."))  # fmt: skip
settings = auth.settings() if not visitor.open_mode else None
if settings is not None:
    st.caption(
        _("From secrets.toml: admins {admins}; analysts {analysts}; allowed domains {domains}; "
          "other allowed emails {emails}; everyone allowed starts as {role}. A role granted here "
          "overrides the default and also admits its email.").format(
            admins=", ".join(sorted(settings.admins)) or _("none"),
            analysts=", ".join(sorted(settings.analysts)) or _("none"),
            domains=", ".join(sorted(settings.domains)) or _("none"), emails=len(settings.emails),
            role=settings.default_role.label)
    )  # fmt: skip
with st.form("grant-role", clear_on_submit=True):
    email = st.text_input(_("Email"), placeholder="name@example.com", key="role-email")
    role = st.selectbox(_("Role"), [r.label for r in Role], index=0, key="role-choice")
    granted = st.form_submit_button(_("Grant role")) and email.strip()
if granted and widgets.run_safely(lambda: admin.set_role(visitor, email, Role.parse(role))):
    st.success(
        literal(
            _("{email} now has the {role} role.").format(email=email.strip().lower(), role=role)
        )
    )
table = widgets.run_safely(lambda: admin.role_table(visitor))  # read after any change above
if table is not None and not table.empty:
    gone = st.selectbox(_("Withdraw a granted role"), list(table.email), index=None,
                        placeholder=_("choose an email"), key="role-remove")  # fmt: skip
    withdraw = st.button(_("Withdraw role"), disabled=gone is None, key="role-remove-button")
    if withdraw and widgets.run_safely(lambda: admin.remove_role(visitor, gone)):
        st.success(literal(_("{email} no longer has a granted role.").format(email=gone)))
        table = table[table.email != gone]
    st.table(literal_table(table.set_index("email")))

st.header(_("Delete a corpus"))
st.caption(_("Removes the corpus's clips and the predictions, frame curves, embeddings, segments, "
             "projections and uploaded media that no other corpus uses. It cannot be undone."))  # fmt: skip
corpora = reads.corpora()
if corpora.empty:
    st.info(_("No corpora."))
    st.stop()
name = st.selectbox(_("Corpus"), list(corpora.corpus), index=None, placeholder=_("choose a corpus"),
                    key="delete-corpus")  # fmt: skip
if name is not None:
    clips = int(corpora.set_index("corpus").loc[name, "clips"])
    typed = st.text_input(ngettext("Type {name} to confirm deleting its {clips} clip",
                                   "Type {name} to confirm deleting its {clips} clips", clips).format(
        name=name, clips=i18n.number(clips)), key="delete-confirm")  # fmt: skip
    if st.button(_("Delete corpus"), type="primary", disabled=typed != name, key="delete-button"):
        report = widgets.run_safely(lambda: admin.delete_corpus(visitor, name))
        if report is not None:
            st.success(i18n.message(report.summary()))

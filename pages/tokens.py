"""API tokens: a signed-in user creates personal tokens for the HTTP API (/api/*), each shown once,
and revokes them; an admin sees and revokes everyone's. Rules and audit: core.access.tokens."""

import streamlit as st

from core.access import tokens
from dashboard import auth, resources, widgets
from dashboard.i18n import _
from dashboard.text import literal_table, server_zone

st.title("🔑 " + _("API tokens"))
visitor = auth.refuse_unless("read")
if visitor.open_mode:
    st.info(_("No sign-in is configured, so the API at /api/* is open like this dashboard and "
              "needs no token (README, “The HTTP API”)."))  # fmt: skip
    st.stop()

st.caption(_("A token acts as you, with the role you hold when it is used: a viewer's token reads, "
             "an analyst's also uploads. Send it as {header}. Only a hash is kept: the token is "
             "shown once, when it is created.").format(header="`Authorization: Bearer <token>`"))  # fmt: skip
with st.form("new-token", clear_on_submit=True):
    left, right = st.columns([3, 1])
    name = left.text_input(_("Name (what the token is for)"), max_chars=tokens.MAX_NAME_CHARS)
    days = right.number_input(_("Valid for (days)"), 1, tokens.MAX_DAYS, tokens.DEFAULT_DAYS)
    if st.form_submit_button(_("Create token"), type="primary"):
        created = widgets.run_safely(
            lambda: tokens.create(resources.store(), visitor, name, int(days))
        )
        if created is not None:
            st.session_state["new_token"] = created
created = st.session_state.pop("new_token", None)
if created is not None:
    st.success(_("Token {token} created, valid until {until}. Copy it now: it is not shown "
                 "again.").format(token=created.token_id, until=f"{created.expires_at:%Y-%m-%d}"))  # fmt: skip
    st.code(created.secret, language=None)

everyone = visitor.may("manage_roles")
st.header(_("Everyone's tokens") if everyone else _("Your tokens"))
table = widgets.run_safely(lambda: tokens.listed(resources.store(), visitor))
if table is not None and table.empty:
    st.info(_("No tokens yet."))
elif table is not None:
    st.caption(_("Times are the server's ({zone}).").format(zone=server_zone()))
    st.table(literal_table(table.set_index("token_id")))
    live = table[table.revoked_at.isna()]
    if not live.empty:
        labels = {int(r.token_id): f"{r.token_id}: {r.name} ({r.owner}, {r.prefix}…)"
                  for r in live.itertuples()}  # fmt: skip
        picked = st.selectbox(_("Token to revoke"), list(labels), format_func=labels.get)
        revoke = st.button(_("Revoke"), key="revoke-token")
        if revoke and widgets.run_safely(lambda: tokens.revoke(resources.store(), visitor, picked)):
            st.rerun()

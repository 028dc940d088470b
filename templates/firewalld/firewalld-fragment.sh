{%- extends "firewalld.sh" -%}
{#- policy = "fragment": the same script; the policies' target is CONTINUE (the view says so). -#}
{%- block policy_note %}what the policies do not accept goes on to the zones, as before.{% endblock -%}

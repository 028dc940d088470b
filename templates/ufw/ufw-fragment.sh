{%- extends "ufw.sh" -%}
{#- policy = "fragment": the same script without the part that sets ufw's defaults. -#}
{%- block policy_note %}ufw's defaults and whether it is enabled stay as they are.{% endblock -%}
{%- block defaults %}{% endblock -%}

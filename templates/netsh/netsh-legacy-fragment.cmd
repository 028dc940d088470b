{%- extends "netsh-legacy.cmd" -%}
{#- policy = "fragment": the same script without the steps that turn the firewall on and set its default policy. -#}
{%- block policy_step %}{% endblock -%}
{%- block policy_set %}{% endblock -%}

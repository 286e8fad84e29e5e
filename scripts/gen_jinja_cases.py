"""Writes testdata/chat/jinja_cases.json: templates rendered by Jinja2 with
transformers' chat-template settings (trim_blocks, lstrip_blocks, loop
controls, tojson = json.dumps(ensure_ascii=False)), the reference that
runtime/tokenizer/jinja_test.cc holds glmq's Jinja subset to. Needs the
jinja2 Python package; the tests only read the JSON.

    python3 scripts/gen_jinja_cases.py testdata/chat/jinja_cases.json
"""
import json, sys
import jinja2, jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters['tojson'] = tojson
cases = [
 ("ws_trim_lstrip", "a\n  {% if x %}\n    yes\n  {% endif %}\nb {{- ' c ' -}} d\n{# c #}\ne\n", {"x": True}),
 ("ws_plus", "a\n  {%+ if x +%}\nyes{% endif %}|", {"x": True}),
 ("ws_lstrip_after_var", "{{ x }}  {% if x %}z{% endif %}", {"x": 1}),
 ("ws_minus_var", "a  {{- x -}}  \n b", {"x": 2}),
 ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 'a' ~ (1 + 2) }} {{ 1 ~ 2 * 3 }} {{ not 1 == 2 }} {{ 1 if false else 2 }} {{ 3 if true }}", {}),
 ("strings", "{{ s.strip() }}|{{ s.split() }}|{{ s.split(' ', 1) }}|{{ 'a,b,,c'.split(',') }}|{{ s[1:4] }}|{{ s[::-1] }}|{{ s[-2] }}|{{ s.upper() }}|{{ s|length }}|{{ s.startswith(' x') }}|{{ s.endswith(('z ', 'q')) }}|{{ s.replace('y', 'Y') }}|{{ '-'.join(['a', 'b']) }}|{{ s.find('y') }}", {"s": " xé yz "}),
 ("think", "{{ c.split('</think>')[-1].strip() }}|{{ c.lstrip('ab') }}|{{ c.rstrip() }}.", {"c": "ab<think>t</think>\n answer  "}),
 ("loop", "{% for m in ms if m.r != 's' %}{{ loop.index }}/{{ loop.length }}{{ m.r }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %},{% else %}none{% endfor %}", {"ms": [{"r": "s"}, {"r": "u"}, {"r": "a"}]}),
 ("loop_else", "{% for m in ms %}x{% else %}none{% endfor %}", {"ms": []}),
 ("loop_ctrl", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
 ("items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}|{{ d|items|list|length }}", {"d": {"b": 1, "a": [1, 2]}}),
 ("namespace", "{% set ns = namespace(n=0, s='') %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% set x = i %}{% endfor %}{{ ns.n }} {{ x is defined }}", {}),
 ("macro", "{% macro f(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ f(1) }}{{ f(2, b=3) }}", {}),
 ("tests", "{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ none is none }} {{ 's' is string }} {{ 3 is number }} {{ 3 is odd }} {{ 4 is divisibleby 2 }} {{ d is mapping }} {{ [1] is iterable }} {{ x is not none }}", {"x": 1, "d": {}}),
 ("tojson", "{{ t|tojson }}\n{{ t|tojson(indent=4) }}\n{{ t|tojson(ensure_ascii=True) }}\n{{ t|tojson(indent=2, sort_keys=true) }}\n{{ [] | tojson(indent=4) }}{{ {} | tojson }}", {"t": {"name": "f", "desc": "温度 \"q\"\n\t\u0001", "n": [1, 2.5, 1e-05, 1e16, True, None], "o": {}}}),
 ("repr", "{{ l }} {{ d }} {{ 1.0 }} {{ none }} {{ true }} {{ 'it\\'s' }}", {"l": ["a", 1, None, True, 2.5], "d": {"k": "v"}}),
 ("get", "{{ m.get('metadata', '') }}|{{ m.get('x') }}|{{ m['content'] }}|{{ m.missing }}|{{ m.content }}", {"m": {"content": "c"}}),
 ("filters", "{{ ms|selectattr('role', 'equalto', 'system')|list|length }}|{{ ms|map(attribute='role')|join(',') }}|{{ ms|rejectattr('role', 'equalto', 'system')|first }}|{{ x|default('dflt') }}|{{ ''|default('e', true) }}|{{ ' t '|trim }}|{{ 'ab'|upper }}|{{ [3,1,3]|unique|list }}|{{ '12'|int + 1 }}|{{ -3|abs }}|{{ [1,2]|last }}|{{ 'abc'|reverse }}|{{ 'x'|string ~ 2 }}", {"ms": [{"role": "system"}, {"role": "user"}]}),
 ("setblock", "{% set b %}x{{ 1 }}y{% endset %}[{{ b }}]", {}),
 ("in", "{{ 'a' in 'cat' }} {{ 2 in [1,2] }} {{ 'k' in d }} {{ 'z' not in d }}", {"d": {"k": 1}}),
 ("raw", "{% raw %}{{ x }}{% endraw %}", {}),
 ("cond_chain", "{% if a %}A{% elif b %}B{% else %}C{% endif %}{% if not a and b or false %}!{% endif %}", {"a": False, "b": True}),
 ("glm_z1_like", "[gMASK]<sop>\n{%- if tools -%}\n<|system|>\n# T\n{%- for tool in tools %}\n    {%- set function = tool.function if tool.get(\"function\") else tool %}\n\n## {{ function.name }}\n\n{{ function | tojson(indent=4, ensure_ascii=False) }}\n{%- endfor %}\n{%- endif -%}\n{%- for message in messages if message.role != 'system' %}\n    {%- set meta = message.get(\"metadata\", \"\") %}\n    {%- if message.role == 'user' %}\n<|user|>\n{{ message.content }}\n    {%- elif message.role == 'assistant' and meta %}\n<|assistant|>{{ meta }}\n{{ message.content }}\n    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}<|assistant|>\n{% endif %}", {"tools": [{"type": "function", "function": {"name": "w", "parameters": {"a": 1}}}, {"name": "bare"}], "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}, {"role": "assistant", "metadata": "w", "content": "{\"a\": 1}"}], "add_generation_prompt": True}),
 ("misc", "{{ \"they're 1a ÉCOLE\"|title }}|{{ \"they're 1a-b\".title() }}|{{ 'éa'.capitalize() }}|{{ 'ab' * 3 }}|{% for c in 'hé' %}[{{ c }}]{% endfor %}|{{ {'a': 1, 'b': [true]} }}|{% for i in [1,2,3] %}{{ loop.previtem }}{{ loop.cycle('x', 'y') }}{% endfor %}|{{ ('a', 'b')|join }}|{{ [1, 2][-1] }}|{{ 'abc'[5] is defined }}|{{ 10 / 4 }}|{{ 2 ** -1 }}", {}),
 ("nested_scopes", "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% for j in [1] %}{{ x }}{% set x = 3 %}{% endfor %}{{ x }}{% endfor %}{{ x }}", {}),
 ("ws_mixed", "  {%- if true -%}  \n  x  \n  {%- endif %}\n\n  {#- c -#}\n y {% if true %}\n  z{% endif %}  \n{{- '|' }}\n", {}),
 ("undefined_ops", "{{ u }}|{{ u is defined }}|{% for x in u %}x{% endfor %}|{{ u|default('d') }}|{{ 'a' in u }}|{{ u|length }}|{{ none }}|{{ m.role if m.role else 'r' }}", {"m": {}}),
]
out = []
for name, tpl, vars in cases:
    r = env.from_string(tpl).render(**vars)
    out.append({"name": name, "template": tpl, "vars": vars, "expected": r})
json.dump(out, open(sys.argv[1], 'w'), ensure_ascii=False, indent=1)

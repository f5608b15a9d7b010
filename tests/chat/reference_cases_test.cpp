// Templates whose expected rendering (or error) was produced by Python's jinja2 3.1 configured
// as Hugging Face's apply_chat_template configures it (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, tojson with ensure_ascii=False, raise_exception,
// strftime_now fixed at 2026-07-26 12:00:00). Errors are written "ERR <Python class>: <message>".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.h"

namespace cria::chat {
namespace {

struct ReferenceCase {
    const char* source;
    const char* context;
    const char* expected;
};

const ReferenceCase kCases[] = {
    {R"J({{ 1 + 2 }}|{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 4 / 2 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }})J",
     R"J({})J", R"J(3|3.5|3|-4|2|1024|0.5|2.0|3.0|0.5)J"},
    {R"J({{ "a" ~ 1 ~ none ~ true ~ 1.5 ~ [1, "b"] ~ {"k": none} }})J", R"J({})J",
     R"J(a1NoneTrue1.5[1, 'b']{'k': None})J"},
    {R"J({{ [1, 2.0, "a'b", 'q"', "both'\"", none, true, {"k": "v"}, (1,), (), (1, 2)] }})J",
     R"J({})J", R"J([1, 2.0, "a'b", 'q"', 'both\'"', None, True, {'k': 'v'}, (1,), (), (1, 2)])J"},
    {R"J({{ x }}|{{ x.a }}|{{ x.b }}|{{ x.c.d }})J", R"J({"x": {"a": 1, "c": {"d": [1, 2]}}})J",
     R"J({'a': 1, 'c': {'d': [1, 2]}}|1||[1, 2])J"},
    {R"J({{ x.b.c }})J", R"J({"x": {"a": 1}})J",
     R"J(ERR UndefinedError: 'dict object' has no attribute 'b')J"},
    {R"J({{ y }}|{{ y is defined }}|{{ y is undefined }}|{{ y|default("d") }}|{{ none|default("d") }}|{{ none|default("d", true) }}|{{ ""|default("e", true) }})J",
     R"J({})J", R"J(|False|True|d|None|d|e)J"},
    {R"J({% for i in range(3) %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %})J",
     R"J({})J", R"J(1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|)J"},
    {R"J({% for i in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle("a","b") }};{% endfor %})J",
     R"J({})J", R"J(-2-a;1-3-b;2--a;)J"},
    {R"J({% for i in [1,1,2,2,3] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %})J",
     R"J({})J", R"J(123)J"},
    {R"J({% for i in [] %}x{% else %}empty{% endfor %})J", R"J({})J", R"J(empty)J"},
    {R"J({% for i in range(10) if i is odd %}{{ i }}{{ loop.length }};{% endfor %})J", R"J({})J",
     R"J(15;35;55;75;95;)J"},
    {R"J({% for k, v in {"a": 1, "b": 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in {"a": 1, "b": 2}|items %}{{ k }}={{ v }};{% endfor %}{% for k in {"a": 1, "b": 2} %}{{ k }}{% endfor %})J",
     R"J({})J", R"J(a=1;b=2;a=1;b=2;ab)J"},
    {R"J({% for c in "héllo" %}[{{ c }}]{% endfor %})J", R"J({})J", R"J([h][é][l][l][o])J"},
    {R"J({% for i in range(10) %}{% if i == 3 %}{% continue %}{% endif %}{% if i == 6 %}{% break %}{% endif %}{{ i }}{% endfor %})J",
     R"J({})J", R"J(01245)J"},
    {R"J({% set ns = namespace(count=0, items=[]) %}{% for i in range(4) %}{% set ns.count = ns.count + i %}{% endfor %}{{ ns.count }}{{ ns }})J",
     R"J({})J", R"J(6<Namespace {'count': 6, 'items': []}>)J"},
    {R"J({% macro greet(name, greeting="Hello") %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet("Bob") }} {{ greet("Al", greeting="Hi") }} {{ greet(name="Z") }})J",
     R"J({})J", R"J(Hello, Bob! Hi, Al! Hello, Z!)J"},
    {R"J({% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, a=3) }})J", R"J({})J",
     R"J((1, 2){'a': 3})J"},
    {R"J({% macro outer() %}[{{ caller() }}]{% endmacro %}{% call outer() %}inside{% endcall %})J",
     R"J({})J", R"J([inside])J"},
    {R"J({% macro outer(x) %}[{{ caller(x * 2) }}]{% endmacro %}{% call(v) outer(21) %}v={{ v }}{% endcall %})J",
     R"J({})J", R"J([v=42])J"},
    {R"J({% filter upper %}hello {{ "world" }}{% endfilter %})J", R"J({})J", R"J(HELLO WORLD)J"},
    {R"J({% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]{% set y | upper %}abc{% endset %}{{ y }})J",
     R"J({})J", R"J([block 2]ABC)J"},
    {R"J({% raw %}{{ not rendered }} {% if %}{% endraw %})J", R"J({})J",
     R"J({{ not rendered }} {% if %})J"},
    {R"J({% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }})J", R"J({})J", R"J(3)J"},
    {R"J({{ "Hello World"|lower }} {{ "hello world"|upper }} {{ "hello wORLD-foo(bar)"|title }} {{ "hELLO"|capitalize }})J",
     R"J({})J", R"J(hello world HELLO WORLD Hello World-Foo(Bar) Hello)J"},
    {R"J({{ "  x  "|trim }}|{{ "xxhixx"|trim("x") }}|{{ "a,b,,c"|replace(",", ";") }}|{{ "aaa"|replace("a", "b", 2) }})J",
     R"J({})J", R"J(x|hi|a;b;;c|bba)J"},
    {R"J({{ [3, 1, 2]|sort }}{{ [3, 1, 2]|sort(reverse=true) }}{{ ["b", "A", "c"]|sort }}{{ ["b", "A", "c"]|sort(case_sensitive=true) }})J",
     R"J({})J", R"J([1, 2, 3][3, 2, 1]['A', 'b', 'c']['A', 'b', 'c'])J"},
    {R"J({{ [{"n": 2}, {"n": 1}]|sort(attribute="n") }}{{ [{"n": 2}, {"n": 1}]|map(attribute="n")|list }}{{ [{"n": 2}, {"n": 1}]|map(attribute="n")|join(",") }})J",
     R"J({})J", R"J([{'n': 1}, {'n': 2}][2, 1]2,1)J"},
    {R"J({{ ["a", "b"]|map("upper")|list }}{{ [1, 2, 3, 4]|select("odd")|list }}{{ [1, 2, 3, 4]|reject("odd")|list }}{{ [0, 1, none, 2]|select|list }})J",
     R"J({})J", R"J(['A', 'B'][1, 3][2, 4][1, 2])J"},
    {R"J({{ users|selectattr("active")|map(attribute="name")|join(", ") }}|{{ users|rejectattr("active")|map(attribute="name")|join(", ") }}|{{ users|selectattr("role", "equalto", "admin")|list|length }})J",
     R"J({"users": [{"name": "a", "active": true, "role": "admin"}, {"name": "b", "active": false, "role": "user"}]})J",
     R"J(a|b|1)J"},
    {R"J({{ [1, 2, 2, 3, 1]|unique|list }}{{ ["a", "A", "b"]|unique|list }}{{ {"b": 1, "a": 2}|dictsort }}{{ {"b": 1, "a": 2}|dictsort(by="value") }})J",
     R"J({})J", R"J([1, 2, 3]['a', 'b'][('a', 2), ('b', 1)][('b', 1), ('a', 2)])J"},
    {R"J({{ [1, 2, 3]|first }}{{ [1, 2, 3]|last }}{{ "abc"|first }}{{ []|first }}|{{ [1, 2, 3]|length }}{{ "héllo"|length }}{{ {"a": 1}|length }}{{ x|length }})J",
     R"J({})J", R"J(13a|3510)J"},
    {R"J({{ "3"|int }}{{ "3.7"|int }}{{ "abc"|int }}{{ "abc"|int(5) }}{{ 3.9|int }}{{ "0x1A"|int(0, 16) }}{{ "1_000"|int }}{{ "3"|float }}{{ "x"|float }}{{ 3|float }})J",
     R"J({})J", R"J(330532610003.00.03.0)J"},
    {R"J({{ 2.5|round }}{{ 3.5|round }}{{ 2.675|round(2) }}{{ 2.4|round(method="ceil") }}{{ 2.6|round(method="floor") }}{{ 3|round }}{{ -2.5|round }})J",
     R"J({})J", R"J(2.04.02.673.02.03-2.0)J"},
    {R"J({{ [1, 2, 3]|sum }}{{ [1.5, 2]|sum }}{{ [{"v": 1}, {"v": 2}]|sum(attribute="v") }}{{ [3, 1, 2]|min }}{{ [3, 1, 2]|max }}{{ ["b", "A"]|max }})J",
     R"J({})J", R"J(63.5313b)J"},
    {R"J({{ "abc"|reverse }}{{ [1, 2, 3]|reverse|list }}{{ [1, 2, 3]|join("-") }}{{ "abc"|list }}{{ {"a": 1, "b": 2}|list }})J",
     R"J({})J", R"J(cba[3, 2, 1]1-2-3['a', 'b', 'c']['a', 'b'])J"},
    {R"J({{ "hello\nworld\n\nend"|indent }}|{{ "hello\nworld"|indent(2, true) }}|{{ "a\n\nb"|indent(2, blank=true) }}|{{ "x\ny"|indent("> ") }})J",
     R"J({})J",
     R"J(hello
    world

    end|  hello
  world|a
  
  b|x
> y)J"},
    {R"J({{ x|tojson }}|{{ x|tojson(indent=2) }}|{{ "é\"\\\n\t\u0001"|tojson }}|{{ [1.0, 1e20, 1e-7, none, true]|tojson }})J",
     R"J({"x": {"b": 1, "a": [1, {"c": "d"}], "e": {}, "f": []}})J",
     R"J({"b": 1, "a": [1, {"c": "d"}], "e": {}, "f": []}|{
  "b": 1,
  "a": [
    1,
    {
      "c": "d"
    }
  ],
  "e": {},
  "f": []
}|"é\"\\\n\t\u0001"|[1.0, 1e+20, 1e-07, null, true])J"},
    {R"J({{ x|tojson(sort_keys=true) }}|{{ x|tojson(separators=(",", ":")) }}|{{ x|tojson(ensure_ascii=true) }})J",
     R"J({"x": {"b": "é🚀", "a": 1}})J",
     R"J({"a": 1, "b": "é🚀"}|{"b":"é🚀","a":1}|{"b": "\u00e9\ud83d\ude80", "a": 1})J"},
    {R"J({{ "abc"[1] }}{{ "abc"[-1] }}{{ "abcdef"[1:3] }}{{ "abcdef"[::2] }}{{ "abcdef"[::-1] }}{{ [1, 2, 3, 4][1:] }}{{ [1, 2, 3, 4][-2:] }}{{ [1, 2, 3][5] }}|{{ "日本語"[1] }})J",
     R"J({})J", R"J(bcbcacefedcba[2, 3, 4][3, 4]|本)J"},
    {R"J({{ "a" in "abc" }}{{ "z" not in "abc" }}{{ 1 in [1, 2] }}{{ "k" in {"k": 1} }}{{ 3 in x }})J",
     R"J({})J", R"J(TrueTrueTrueTrueFalse)J"},
    {R"J({{ 1 < 2 < 3 }}{{ 1 < 3 < 2 }}{{ 1 == 1.0 }}{{ "a" < "b" }}{{ [1, 2] < [1, 3] }}{{ true == 1 }}{{ none == none }}{{ {"a": 1} == {"a": 1} }})J",
     R"J({})J", R"J(TrueFalseTrueTrueTrueTrueTrueTrue)J"},
    {R"J({{ true and "x" }}|{{ false or "y" }}|{{ none or 0 }}|{{ "" and 1 }}|{{ not none }}|{{ 1 if true else 2 }}|{{ 1 if false else 2 }}|{{ 1 if false }}|)J",
     R"J({})J", R"J(x|y|0||True|1|2||)J"},
    {R"J({{ "Hello %s, you are %d" % ("Bob", 42) }}|{{ "%.2f" % 3.14159 }}|{{ "%5s|%-5s|" % ("a", "b") }}|{{ "%(x)s" % {"x": 1} }}|{{ "%s"|format(1) }})J",
     R"J({})J", R"J(Hello Bob, you are 42|3.14|    a|b    ||1|1)J"},
    {R"J({{ "{} and {}".format("a", "b") }}|{{ "{0}{1}{0}".format("x", "y") }}|{{ "{name}".format(name="n") }}|{{ "{:>5}|{:<5}|{:^5}".format("a", "b", "c") }}|{{ "{:.2f}".format(3.14159) }}|{{ "{:05d}".format(42) }})J",
     R"J({})J", R"J(a and b|xyx|n|    a|b    |  c  |3.14|00042)J"},
    {R"J({{ "a,b,c".split(",") }}{{ "a b  c ".split() }}{{ "a,b,c".split(",", 1) }}{{ "a,b,c".rsplit(",", 1) }}{{ "  x ".strip() }}{{ "xxyxx".lstrip("x") }}{{ "xxyxx".rstrip("x") }})J",
     R"J({})J", R"J(['a', 'b', 'c']['a', 'b', 'c']['a', 'b,c']['a,b', 'c']xyxxxxy)J"},
    {R"J({{ "hello".startswith("he") }}{{ "hello".endswith(("lo", "x")) }}{{ "hello".find("l") }}{{ "hello".rfind("l") }}{{ "hello".count("l") }}{{ "hello".replace("l", "L") }}{{ "héllo".find("l") }})J",
     R"J({})J", R"J(TrueTrue232heLLo2)J"},
    {R"J({{ "a-b".partition("-") }}{{ "hello world".title() }}{{ "hello".capitalize() }}{{ "Hello".swapcase() }}{{ "abc".upper() }}{{ "x".center(5) }}{{ "x".ljust(3, "*") }}{{ "x".rjust(3) }}{{ "42".zfill(5) }})J",
     R"J({})J", R"J(('a', '-', 'b')Hello WorldHellohELLOABC  x  x**  x00042)J"},
    {R"J({{ ", ".join(["a", "b"]) }}{{ "ab".isalpha() }}{{ "12".isdigit() }}{{ "  ".isspace() }}{{ "abc".islower() }}{{ "ABC".isupper() }}{{ "a\nb\r\nc".splitlines() }})J",
     R"J({})J", R"J(a, bTrueTrueTrueTrueTrue['a', 'b', 'c'])J"},
    {R"J({{ {"a": 1}.get("a") }}{{ {"a": 1}.get("b") }}{{ {"a": 1}.get("b", 2) }}{{ {"a": 1, "b": 2}.keys()|list }}{{ {"a": 1, "b": 2}.values()|list }})J",
     R"J({})J", R"J(1None2['a', 'b'][1, 2])J"},
    {R"J({{ [1, 2, 3].index(2) }}{{ [1, 2, 2].count(2) }})J", R"J({})J", R"J(12)J"},
    {R"J({{ range(5)|list }}{{ range(1, 5)|list }}{{ range(10, 0, -3)|list }}{{ range(0)|list }})J",
     R"J({})J", R"J([0, 1, 2, 3, 4][1, 2, 3, 4][10, 7, 4, 1][])J"},
    {R"J({{ dict(a=1, b=2) }}{{ namespace(x=1).x }})J", R"J({})J", R"J({'a': 1, 'b': 2}1)J"},
    {R"J({% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = (1, 2) %}{{ c }}{% for x, y in [(1, 2), [3, 4]] %}{{ x + y }}{% endfor %})J",
     R"J({})J", R"J(12(1, 2)37)J"},
    {R"J({{ 1 is odd }}{{ 2 is even }}{{ 6 is divisibleby 3 }}{{ 6 is divisibleby(4) }}{{ none is none }}{{ 1 is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is boolean }}{{ "s" is string }}{{ {} is mapping }}{{ [] is sequence }}{{ "s" is iterable }}{{ 1 is iterable }}{{ x is callable }}{{ range is callable }})J",
     R"J({})J", R"J(TrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrue)J"},
    {R"J({{ "ab" is lower }}{{ "AB" is upper }}{{ 1 is eq 1 }}{{ 1 is ne 2 }}{{ 1 is lt 2 }}{{ 2 is gt 1 }}{{ 1 is in [1] }}{{ true is true }}{{ false is false }}{{ 1 is true }}{{ "upper" is filter }}{{ "odd" is test }}{{ none is sameas none }})J",
     R"J({})J", R"J(TrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrue)J"},
    {R"J({{ [1,2,3,4,5]|batch(2)|list }}{{ [1,2,3,4,5]|batch(2, 0)|list }}{{ [1,2,3,4,5]|slice(2)|list }}{{ "a b c"|wordcount }}{{ "hello world foo"|truncate(9) }}{{ "hello world"|truncate(5, true, "..", 0) }})J",
     R"J({})J",
     R"J([[1, 2], [3, 4], [5]][[1, 2], [3, 4], [5, 0]][[1, 2, 3], [4, 5]]3hello...hel..)J"},
    {R"J({{ "<b>x</b> &amp; y"|striptags }}{{ "<a&b>"|escape }}{{ "<a>"|e }}{{ "x"|safe }}{{ -3|abs }}{{ 1|string }}{{ [1]|string }}{{ "a b"|urlencode }}{{ "text"|center(10) }}|)J",
     R"J({})J", R"J(x & y&lt;a&amp;b&gt;&lt;a&gt;x31[1]a%20b   text   |)J"},
    {R"J({{ x.y }})J", R"J({"x": null})J", R"J()J"},
    {R"J({{ x|attr("y") }}{{ {"a": 1}|attr("a") }})J", R"J({"x": {"y": 1}})J", R"J()J"},
    {R"J({{ "a" * 3 }}{{ [1] * 3 }}{{ 3 * "ab" }}{{ [1] + [2] }}{{ (1,) + (2,) }}{{ "x" + "y" }}{{ -(3) }}{{ +3 }}{{ 1e3 }}{{ 1_000 }}{{ 0x10 }}{{ 0o10 }}{{ 0b10 }})J",
     R"J({})J", R"J(aaa[1, 1, 1]ababab[1, 2](1, 2)xy-331000.010001682)J"},
    {R"J({{ "a" "b" 'c' }}{{ "\x41\u00e9\101" }}{{ '\'' }}{{ "\q" }})J", R"J({})J",
     R"J(abcAéA'\q)J"},
    {R"J({%- if true -%}
   yes
{%- endif -%}
  after)J",
     R"J({})J", R"J(yesafter)J"},
    {R"J(  {% if true %}
    x
  {% endif %}
  {{ "y" }}
  {# comment #}
z  {%- if true %} w{% endif %})J",
     R"J({})J",
     R"J(    x
  y
z w)J"},
    {R"J({% for m in messages %}{{ m.role }}:{{ m['content'] }}{% if not loop.last %}, {% endif %}{% endfor %})J",
     R"J({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})J",
     R"J(user:hi, assistant:yo)J"},
    {R"J({{ cycler("a", "b").next() }}{% set c = cycler("x", "y") %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}{% set j = joiner(", ") %}{{ j() }}a{{ j() }}b)J",
     R"J({})J", R"J(axyxya, b)J"},
    {R"J({% for a in [[1, [2, 3]], [4]] recursive %}[{% if a is iterable %}{{ loop(a) if a is sequence else a }}{% else %}{{ a }}{% endif %}]{% endfor %})J",
     R"J({})J", R"J([[1][[2][3]]][[4]])J"},
    {R"J({% for x in [1, [2, [3]]] recursive %}{% if x is sequence %}{{ loop(x) }}{% else %}{{ x }}@{{ loop.depth }}{% endif %};{% endfor %})J",
     R"J({})J", R"J(1@1;2@2;3@3;;;)J"},
    {R"J({{ strftime_now("%Y-%m-%d %H:%M:%S %a %b %j %p %I") }}|{{ strftime_now("%d %b %Y") }}|{{ strftime_now("%-d/%-m") }})J",
     R"J({})J", R"J(2026-07-26 12:00:00 Sun Jul 207 PM 12|26 Jul 2026|26/7)J"},
    {R"J({{ raise_exception("boom") }})J", R"J({})J", R"J(ERR TemplateError: boom)J"},
    {R"J({{ 1 / 0 }})J", R"J({})J", R"J(ERR ZeroDivisionError: division by zero)J"},
    {R"J({{ "a" + 1 }})J", R"J({})J",
     R"J(ERR TypeError: can only concatenate str (not "int") to str)J"},
    {R"J({{ [] + () }})J", R"J({})J",
     R"J(ERR TypeError: can only concatenate list (not "tuple") to list)J"},
    {R"J({{ undefined_thing + 1 }})J", R"J({})J",
     R"J(ERR UndefinedError: 'undefined_thing' is undefined)J"},
    {R"J({{ x.append(1) }})J", R"J({"x": [1]})J",
     R"J(ERR SecurityError: access to attribute 'append' of 'list' object is unsafe.)J"},
    {R"J({{ {"a": 1}.pop("a") }})J", R"J({})J",
     R"J(ERR SecurityError: access to attribute 'pop' of 'dict' object is unsafe.)J"},
    {R"J({% for i in 5 %}{% endfor %})J", R"J({})J",
     R"J(ERR TypeError: 'int' object is not iterable)J"},
    {R"J({{ 1 < "a" }})J", R"J({})J",
     R"J(ERR TypeError: '<' not supported between instances of 'int' and 'str')J"},
    {R"J({% set a, b = [1] %})J", R"J({})J",
     R"J(ERR ValueError: not enough values to unpack (expected 2, got 1))J"},
    {R"J({{ range(200000) }})J", R"J({})J",
     R"J(ERR OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).)J"},
    {R"J({{ none.x }}|{{ none["x"] }}|{{ [1][3] }}|{{ "ab".zz }})J", R"J({})J", R"J(|||)J"},
    {R"J({{ x.y.z }})J", R"J({"x": null})J",
     R"J(ERR UndefinedError: 'None' has no attribute 'y')J"},
    {R"J({{ foo() }})J", R"J({})J", R"J(ERR UndefinedError: 'foo' is undefined)J"},
    {R"J({{ "abc"() }})J", R"J({})J", R"J(ERR TypeError: 'str' object is not callable)J"},
    {R"J({{ 1|nope }})J", R"J({})J", R"J(ERR TemplateAssertionError: No filter named 'nope'.)J"},
    {R"J({{ 1 is nope }})J", R"J({})J", R"J(ERR TemplateAssertionError: No test named 'nope'.)J"},
    {R"J({% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }})J", R"J({})J",
     R"J(ERR TypeError: macro 'm' takes not more than 1 argument(s))J"},
    {R"J({% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }})J", R"J({})J",
     R"J(ERR TypeError: macro 'm' takes no keyword argument 'b')J"},
    {R"J({% set x = 1 %}{% set x.y = 2 %})J", R"J({})J",
     R"J(ERR TemplateRuntimeError: cannot assign attribute on non-namespace object)J"},
    {R"J({{ loop.index }})J", R"J({})J", R"J(ERR UndefinedError: 'loop' is undefined)J"},
    {R"J({{ "%d" % "x" }})J", R"J({})J",
     R"J(ERR TypeError: %d format: a real number is required, not str)J"},
    {R"J({{ [1, 2]|join(",") }}{{ [1, none]|join }}{{ ["a"]|join(", ", attribute="x") }})J",
     R"J({})J", R"J(1,21None)J"},
    {R"J({{ {"a": [1, 2]}|items|list }}{{ none|items|list }})J", R"J({})J",
     R"J(ERR TypeError: Can only get item pairs from a mapping.)J"},
    {R"J({{ "%s and %r" % ("a", "b") }}{{ "%c" % 65 }}{{ "%x %X %o %05d %+d" % (255, 255, 8, 42, 5) }}{{ "%e" % 12345.678 }}{{ "%g" % 0.0001 }})J",
     R"J({})J", R"J(a and 'b'Aff FF 10 00042 +51.234568e+040.0001)J"},
    {R"J({{ 10 // 3 }}{{ 10 % 3 }}{{ -10 % 3 }}{{ 10 % -3 }}{{ 2.0 ** 3 }}{{ 10 / 4 }}{{ 1e16 }}{{ 1.5e-5 }}{{ 123456789012345678 }}{{ 0.1 + 0.2 }}{{ 1/3 }}
)J",
     R"J({})J",
     R"J(312-28.02.51e+161.5e-051234567890123456780.300000000000000040.3333333333333333)J"},
    {R"J(a
{% if true %}
b
{% endif %}
c)J",
     R"J({})J",
     R"J(a
b
c)J"},
    {R"J(  {%- if true %}x{% endif %})J", R"J({})J", R"J(x)J"},
    {R"J({% if true -%}
   x
{%- endif %})J",
     R"J({})J", R"J(x)J"},
    {R"J(line1
    {% for i in [1,2] %}
    item{{ i }}
    {% endfor %}
end)J",
     R"J({})J",
     R"J(line1
    item1
    item2
end)J"},
    {R"J({{ "a" }}
{{ "b" }})J",
     R"J({})J",
     R"J(a
b)J"},
    {R"J({# c1 #}
{#- c2 -#}
   x   {#- c3 #}  y)J",
     R"J({})J", R"J(x  y)J"},
    {R"J(   {#- c #}x)J", R"J({})J", R"J(x)J"},
    {R"J(text {%+ if true %}y{% endif %})J", R"J({})J", R"J(text y)J"},
    {R"J(text
  {%+ if true %}y{% endif %})J",
     R"J({})J",
     R"J(text
  y)J"},
    {R"J({% if true +%}
y{% endif %})J",
     R"J({})J",
     R"J(
y)J"},
    {R"J(  {% raw %}  raw {{ x }}
  {% endraw %}
after)J",
     R"J({})J",
     R"J(  raw {{ x }}
after)J"},
    {R"J({%- raw -%}
  inner
{%- endraw -%}
  x)J",
     R"J({})J", R"J(innerx)J"},
    {R"J(a {{- " b " -}} c)J", R"J({})J", R"J(a b c)J"},
    {R"J({{ {'a': {'b': 1}} }})J", R"J({})J", R"J({'a': {'b': 1}})J"},
    {R"J({% set d = {"k": [1, {"x": (1, 2)}]} %}{{ d }}{{ d.k[1].x[0] }})J", R"J({})J",
     R"J({'k': [1, {'x': (1, 2)}]}1)J"},
    {R"J({{ [1, 2, 3,] }}{{ {"a": 1,} }}{{ (1, 2,) }}{{ f(1,) if false else "ok" }})J", R"J({})J",
     R"J([1, 2, 3]{'a': 1}(1, 2)ok)J"},
    {R"J({% set x = 1 %}{% if x %}{% set x = 2 %}{% endif %}{{ x }})J", R"J({})J", R"J(2)J"},
    {R"J({% set items = [] %}{% for i in range(3) %}{% set items = items + [i] %}{% endfor %}{{ items }})J",
     R"J({})J", R"J([])J"},
    {R"J({% macro m(n) %}{% if n > 0 %}{{ n }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(5) }})J",
     R"J({})J", R"J(54321)J"},
    {R"J({% macro m() %}{{ x }}{% endmacro %}{% set x = "outer" %}{{ m() }}{% for x in ["loop"] %}{{ m() }}{% endfor %})J",
     R"J({})J", R"J(outerouter)J"},
    {R"J({% for i in [1] %}{% macro inner() %}{{ i }}{% endmacro %}{{ inner() }}{% endfor %})J",
     R"J({})J", R"J(1)J"},
    {R"J({%- set tools = none -%}{{ tools is none }}{{ tools is not none }}{{ not tools is none }})J",
     R"J({})J", R"J(TrueFalseFalse)J"},
    {R"J({{ not 1 == 2 }}{{ not (1 == 2) }}{{ -2 ** 2 }}{{ (-2) ** 2 }}{{ 2 ** 3 ** 2 }}{{ 1 + 2 * 3 }}{{ "a" ~ 1 + 2 }}{{ 10 - 2 - 3 }})J",
     R"J({})J", R"J(ERR TypeError: can only concatenate str (not "int") to str)J"},
    {R"J({{ "x" if none else "y" }}{{ [] or "empty" }}{{ 0 or "" or "last" }})J", R"J({})J",
     R"J(yemptylast)J"},
    {R"J({{ [1, 2] == [1, 2] }}{{ [1, 2] == (1, 2) }}{{ "1" == 1 }}{{ 1.0 == 1 }}{{ x == y }}{{ x == none }})J",
     R"J({})J", R"J(TrueFalseFalseTrueTrueFalse)J"},
    {R"J({{ messages[0]['content'].split('</think>')[-1].lstrip('\n') }})J",
     R"J({"messages": [{"content": "<think>hmm</think>\n\nAnswer"}]})J", R"J(Answer)J"},
    {R"J({{ messages|selectattr("role", "equalto", "user")|list|length }}{{ (messages|last).role }}{{ messages[-1].role }})J",
     R"J({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})J",
     R"J(1assistantassistant)J"},
    {R"J({% for message in messages %}{% if message.tool_calls is defined %}{{ message.tool_calls|length }}{% endif %}{% if message.tool_calls %}T{% endif %}{% endfor %})J",
     R"J({"messages": [{"role": "assistant", "content": "", "tool_calls": []}, {"role": "user"}]})J",
     R"J(0)J"},
    {R"J({{ message['tool_calls'] }}|{{ message.tool_calls is not defined }}|{{ 'tool_calls' in message }})J",
     R"J({"message": {"role": "user"}})J", R"J(|True|False)J"},
    {R"J({{ 3|string + "x" }}{{ (3 ~ "x")|length }}{{ "abc"|length > 2 }})J", R"J({})J",
     R"J(3x2True)J"},
    {R"J({{ x | tojson }})J", R"J({"x": "line sep  del / slash <>&'"})J",
     R"J("line sep  del / slash <>&'")J"},
    {R"J({{ x }})J", R"J({"x": ["a b", "tab\there", "é", "​", "back\\slash", "q'uote"]})J",
     R"J(['a\xa0b', 'tab\there', 'é', '\u200b', 'back\\slash', "q'uote"])J"},
    {R"J({{ x }}{{ x|list }})J", R"J({"x": {"b": 1, "a": 2}})J", R"J({'b': 1, 'a': 2}['b', 'a'])J"},
    {R"J({{ x }}|{{ x|tojson }})J", R"J({"x": [1.5, 100.0, 1e+100, -0.0, 3e-05]})J",
     R"J([1.5, 100.0, 1e+100, -0.0, 3e-05]|[1.5, 100.0, 1e+100, -0.0, 3e-05])J"},
    {R"J({{ 'It''s' }})J", R"J({})J", R"J(Its)J"},
    {R"J({{ "a\
b" }})J",
     R"J({})J", R"J(ab)J"},
    {R"J({%- for tool in tools %}
{{- tool.function.name }}
{%- endfor %})J",
     R"J({"tools": [{"function": {"name": "a"}}, {"function": {"name": "b"}}]})J", R"J(ab)J"},
    {R"J({{ "abc" | replace("b", "") }}{{ "hello" | replace("", "-") }})J", R"J({})J",
     R"J(ac-h-e-l-l-o-)J"},
    {R"J({{ "%s" % [1, 2] }}{{ "%s %s" % [1, 2] }})J", R"J({})J",
     R"J(ERR TypeError: not enough arguments for format string)J"},
    {R"J({{ "{}".format(none) }}{{ "{!r}".format("a") }}{{ "{0[0]}".format([5]) }}{{ "{x.y}".format(x={"y": 2}) }})J",
     R"J({})J", R"J(None'a'52)J"},
    {R"J({{ 5 // 0 }})J", R"J({})J",
     R"J(ERR ZeroDivisionError: integer division or modulo by zero)J"},
    {R"J({{ 5 % 0 }})J", R"J({})J", R"J(ERR ZeroDivisionError: integer modulo by zero)J"},
    {R"J({{ [1, 2]|sum(start=10) }}{{ []|max }}|{{ ["a", "b"]|sum(start="") }})J", R"J({})J",
     R"J(ERR TypeError: sum() can't sum strings [use ''.join(seq) instead])J"},
    {R"J({{ 1 is divisibleby 0 }})J", R"J({})J",
     R"J(ERR ZeroDivisionError: integer modulo by zero)J"},
    {R"J({{ x|int }})J", R"J({})J", R"J(ERR UndefinedError: 'x' is undefined)J"},
    {R"J({{ {1: "a", 1.0: "b", true: "c"} }})J", R"J({})J", R"J({1: 'c'})J"},
    {R"J({{ {[1]: 2} }})J", R"J({})J", R"J(ERR TypeError: unhashable type: 'list')J"},
    {R"J({% set x = [1, 2, 3] %}{{ x[1:2] }}{{ x[:-1] }}{{ x[::-1] }}{{ x[10:] }}{{ x[-10:1] }}{{ x[::0] }})J",
     R"J({})J", R"J(ERR ValueError: slice step cannot be zero)J"},
    {R"J({{ "abc" % [1] }}|{{ "abc" % {"a": 1} }}|{{ "%s" % [1, 2] }})J", R"J({})J",
     R"J(abc|abc|[1, 2])J"},
    {R"J({{ x[1:] }})J", R"J({"x": 5})J", R"J(ERR TypeError: 'int' object is not subscriptable)J"},
    {R"J({{ x[:1] }})J", R"J({"x": {"a": 1}})J", R"J(ERR TypeError: unhashable type: 'slice')J"},
    {R"J({{ x[1:] }})J", R"J({})J", R"J(ERR UndefinedError: 'x' is undefined)J"},
    {R"J({{ [1, 2, 3]|truncate(5) }}|{{ "a long sentence here"|truncate(9) }}|{{ "short"|truncate(3, leeway=0) }})J",
     R"J({})J", R"J([1, 2, 3]|a...|...)J"},
    {R"J({{ x|indent }})J", R"J({"x": [1]})J",
     R"J(ERR AttributeError: 'list' object has no attribute 'splitlines')J"},
    {R"J({{ x|round }})J", R"J({})J",
     R"J(ERR TypeError: type Undefined doesn't define __round__ method)J"},
    {R"J({{ {"a": 1}|attr("a") }}|{{ {"a": 1}|attr("items") is defined }})J", R"J({})J",
     R"J(|True)J"},
    {R"J({{ x|reverse }})J", R"J({"x": 3})J",
     R"J(ERR FilterArgumentError: argument must be iterable)J"},
    {R"J({{ x|dictsort }})J", R"J({"x": [1]})J",
     R"J(ERR AttributeError: 'list' object has no attribute 'items')J"},
    {R"J({{ [1, 2]|map("nope")|list }})J", R"J({})J",
     R"J(ERR TemplateRuntimeError: No filter named 'nope'.)J"},
    {R"J({% for a, b in {"x": 1, "y": 2}|dictsort(reverse=true) %}{{ a }}{{ b }}{% endfor %})J",
     R"J({})J", R"J(y2x1)J"},
    {R"J({% set ns = namespace() %}{% set ns.list = [] %}{% for i in range(3) %}{% set ns.list = ns.list + [i * 2] %}{% endfor %}{{ ns.list|join("+") }}={{ ns.list|sum }})J",
     R"J({})J", R"J(0+2+4=6)J"},
    {R"J({%- for m in messages -%}
  {%- if loop.first and m.role != "system" -%}[no system]{%- endif -%}
  {{- m.role|upper }}{{ ": " if m.content else "" }}{{ m.content|default("", true) }}
  {%- if not loop.last %} | {% endif -%}
{%- endfor -%})J",
     R"J({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": null}, {"role": "tool", "content": ""}]})J",
     R"J([no system]USER: a | ASSISTANT | TOOL)J"},
    {R"J({% for m in messages if m.role != "system" %}{{ loop.index }}/{{ loop.length }}:{{ m.role }}{{ "," if not loop.last }}{% endfor %})J",
     R"J({"messages": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]})J",
     R"J(1/2:user,2/2:assistant)J"},
    {R"J({{ messages | selectattr("tool_calls", "defined") | list | length }}{{ messages | rejectattr("content") | map(attribute="role") | join }})J",
     R"J({"messages": [{"role": "a", "content": "", "tool_calls": []}, {"role": "b", "content": "x"}]})J",
     R"J(1a)J"},
    {R"J({{ (messages | last).content.split("</think>") | last | trim }})J",
     R"J({"messages": [{"content": "<think> x </think>  final  "}]})J", R"J(final)J"},
    {R"J({% if messages[0].content is string %}s{% elif messages[0].content is sequence %}q{% endif %}{% for part in messages[1].content %}{{ part.type }}:{{ part.text if part.type == "text" else "<img>" }};{% endfor %})J",
     R"J({"messages": [{"content": "x"}, {"content": [{"type": "text", "text": "hi"}, {"type": "image"}]}]})J",
     R"J(stext:hi;image:<img>;)J"},
    {R"J({{ 'x' if none is none }}{{ tools is not defined }}{{ (tools or [])|length }})J",
     R"J({})J", R"J(xTrue0)J"},
    {R"J({% set sys = messages[0].content if messages[0].role == "system" else "" %}{% set rest = messages[1:] if sys else messages %}{{ sys|tojson }}{{ rest|length }})J",
     R"J({"messages": [{"role": "system", "content": "Line1\nLine2 \"q\""}, {"role": "user", "content": "u"}]})J",
     R"J("Line1\nLine2 \"q\""1)J"},
};

// The rendering, or "ERR " and the message without the engine's location suffix.
std::string render_or_error(const ReferenceCase& c) {
    auto tmpl = ChatTemplate::parse(c.source);
    if (!tmpl) return "ERR " + tmpl.status().message();
    RenderOptions options;
    options.now = DateTime{2026, 7, 26, 12, 0, 0, 0};
    auto rendered = tmpl->render(nlohmann::ordered_json::parse(c.context), options);
    if (!rendered) {
        std::string message = rendered.status().message();
        const size_t location = message.rfind(" (line ");
        if (location != std::string::npos && message.back() == ')') message.resize(location);
        return "ERR " + message;
    }
    return *rendered;
}

class ReferenceCaseTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ReferenceCaseTest, MatchesPythonJinja) {
    const ReferenceCase& c = kCases[GetParam()];
    EXPECT_EQ(render_or_error(c), c.expected) << "template:\n"
                                              << c.source << "\ncontext: " << c.context;
}

INSTANTIATE_TEST_SUITE_P(Jinja, ReferenceCaseTest,
                         ::testing::Range<size_t>(0, sizeof(kCases) / sizeof(kCases[0])));

}  // namespace
}  // namespace cria::chat

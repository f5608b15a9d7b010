#include "grammar/tool_call_grammar.h"

#include "grammar/json_schema.h"

namespace cria::grammar {

Expected<std::shared_ptr<const Grammar>> compile_tool_call_grammar(
    const ToolCallSyntax& syntax, const std::vector<ToolFunction>& functions, bool allow_multiple) {
    if (functions.empty()) return invalid_argument("no function to call");
    GrammarBuilder builder;
    JsonSchemaCompiler compiler(builder);
    const Element w = Element::ref(compiler.whitespace());
    // {"name": "<function>", "arguments": <its arguments>}: the names form a trie, each
    // continuing with its own arguments, so that many tools cost a matcher one path.
    std::vector<GrammarBuilder::LiteralBranch> names;
    for (const ToolFunction& function : functions) {
        RuleId arguments;
        if (function.parameters.is_null() ||
            (function.parameters.is_object() && function.parameters.empty())) {
            arguments = compiler.any_object();
        } else {
            Expected<RuleId> compiled = compiler.compile(function.parameters);
            if (!compiled) {
                return invalid_argument("function '" + function.name +
                                        "' parameters: " + compiled.status().message());
            }
            arguments = *compiled;
        }
        names.push_back(
            {nlohmann::json(function.name).dump(),
             concat({seq(w), literal(","), seq(w),
                     literal(nlohmann::json(syntax.arguments_key).dump()), seq(w), literal(":"),
                     seq(w), seq(Element::ref(arguments)), seq(w), literal("}")})});
    }
    const RuleId named_call = builder.literal_choice("function", std::move(names));
    const RuleId call = builder.define(
        "call", {concat({literal(syntax.call_open), literal("{"), seq(w),
                         literal(nlohmann::json(syntax.name_key).dump()), seq(w), literal(":"),
                         seq(w), seq(Element::ref(named_call)), literal(syntax.call_close)})});
    const RuleId calls =
        builder.repeat("calls", seq(Element::ref(call)), 1,
                       allow_multiple ? kMaxParallelToolCalls : 1, literal(syntax.call_separator));
    const RuleId root =
        builder.define("root", {concat({seq(w), literal(syntax.calls_open),
                                        seq(Element::ref(calls)), literal(syntax.calls_close)})});
    return builder.build(root);
}

}  // namespace cria::grammar

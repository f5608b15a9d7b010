#include "chat/gotmpl/ollama.h"

#include <algorithm>
#include <set>

namespace cria::chat::gotmpl {
namespace {

using json = nlohmann::ordered_json;

// The identifiers a template names in fields and variables (lower-cased), walked the way
// Ollama walks the tree: through actions, branches, template calls and pipes, not chains.
void collect_identifiers(const Node& node, std::set<std::string>& out) {
    auto add = [&out](const std::vector<std::string>& ident) {
        for (std::string name : ident) {
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            out.insert(std::move(name));
        }
    };
    switch (node.type) {
        case NodeType::kList:
            for (const NodePtr& child : node.children) collect_identifiers(*child, out);
            return;
        case NodeType::kTemplate:
        case NodeType::kAction:
            if (node.pipe) collect_identifiers(*node.pipe, out);
            return;
        case NodeType::kIf:
        case NodeType::kRange:
        case NodeType::kWith:
            collect_identifiers(*node.pipe, out);
            collect_identifiers(*node.list, out);
            if (node.else_list) collect_identifiers(*node.else_list, out);
            return;
        case NodeType::kPipe:
            for (const NodePtr& cmd : node.children) {
                for (const NodePtr& arg : cmd->children) collect_identifiers(*arg, out);
            }
            return;
        case NodeType::kField:
        case NodeType::kVariable:
            add(node.ident);
            return;
        default:
            return;
    }
}

NodePtr response_action() {
    auto field = std::make_shared<Node>();
    field->type = NodeType::kField;
    field->ident = {"Response"};
    auto cmd = std::make_shared<Node>();
    cmd->type = NodeType::kCommand;
    cmd->children.push_back(field);
    auto pipe = std::make_shared<Node>();
    pipe->type = NodeType::kPipe;
    pipe->children.push_back(cmd);
    auto action = std::make_shared<Node>();
    action->type = NodeType::kAction;
    action->pipe = pipe;
    return action;
}

// A copy of the tree that ends right after the first `.Response` field: Ollama's rule for
// the last legacy render. Every node after that field is dropped, including the rest of its
// pipeline (a command left without operands drops the whole action).
class ResponseCut {
  public:
    NodePtr run(const Node& root) { return walk(root); }

  private:
    // Returns null when the node is dropped.
    NodePtr walk(const Node& node) {
        if (matches(node)) return nullptr;
        auto copy = std::make_shared<Node>(node);
        switch (node.type) {
            case NodeType::kList: {
                copy->children.clear();
                for (const NodePtr& child : node.children) {
                    if (NodePtr kept = walk(*child)) copy->children.push_back(std::move(kept));
                }
                return copy;
            }
            case NodeType::kIf:
            case NodeType::kRange:
            case NodeType::kWith: {
                // The condition is not searched; the bodies are.
                copy->list = walk(*node.list);
                if (!copy->list) copy->list = empty_list();
                if (node.else_list) copy->else_list = walk(*node.else_list);
                return copy;
            }
            case NodeType::kAction: {
                copy->pipe = walk(*node.pipe);
                return copy->pipe ? copy : nullptr;
            }
            case NodeType::kPipe: {
                copy->children.clear();
                for (const NodePtr& cmd : node.children) {
                    auto kept_cmd = std::make_shared<Node>(*cmd);
                    kept_cmd->children.clear();
                    for (const NodePtr& arg : cmd->children) {
                        if (NodePtr kept = walk(*arg))
                            kept_cmd->children.push_back(std::move(kept));
                    }
                    if (kept_cmd->children.empty()) return nullptr;
                    copy->children.push_back(std::move(kept_cmd));
                }
                return copy->children.empty() ? nullptr : copy;
            }
            default:
                return copy;
        }
    }

    bool matches(const Node& node) {
        if (node.type == NodeType::kField &&
            std::find(node.ident.begin(), node.ident.end(), "Response") != node.ident.end()) {
            cut_ = true;
            return false;
        }
        return cut_;
    }

    static NodePtr empty_list() {
        auto list = std::make_shared<Node>();
        list->type = NodeType::kList;
        return list;
    }

    bool cut_ = false;
};

// Message text: a string, or the text parts of a content array (Ollama's OpenAI layer turns
// each part into its own message, which collation then joins with a blank line).
std::string content_text(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    std::string out;
    if (content.is_array()) {
        bool first = true;
        for (const json& part : content) {
            const json* text = part.is_object() && part.contains("text") ? &part["text"] : nullptr;
            if (part.is_string()) text = &part;
            if (!text || !text->is_string()) continue;
            if (!first) out += "\n\n";
            out += text->get<std::string>();
            first = false;
        }
    }
    return out;
}

std::string string_field(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Message {
    std::string role;
    std::string content;
    std::string thinking;
    json tool_calls = json::array();
    std::string tool_name;
    std::string tool_call_id;
};

Value tool_call_value(const json& call) {
    const json& function =
        call.contains("function") && call["function"].is_object() ? call["function"] : call;
    const json arguments = function.contains("arguments") ? function["arguments"] : json::object();
    Value args;
    if (arguments.is_string()) {
        // Key order does not matter (Go sorts them), so the text is parsed into sorted maps,
        // which take linear time where order-keeping ones would take quadratic.
        const nlohmann::json parsed =
            nlohmann::json::parse(arguments.get<std::string>(), nullptr, false);
        if (parsed.is_discarded()) throw Error("a tool call's arguments are not valid JSON");
        if (!parsed.is_object() && !parsed.is_null()) {
            throw Error("a tool call's arguments are not a JSON object");
        }
        args = parsed.is_null() ? Value::map({}) : from_json(parsed);
    } else if (arguments.is_object() || arguments.is_null()) {
        args = arguments.is_null() ? Value::map({}) : from_json(arguments);
    } else {
        throw Error("a tool call's arguments are not a JSON object");
    }
    args.printing = Printing::kJsonNilAsEmptyObject;
    int64_t index = 0;
    if (function.contains("index") && function["index"].is_number_integer()) {
        index = function["index"].get<int64_t>();
    }
    Value function_value =
        make_struct("template.templateToolCallFunction",
                    {{"Index", "Index", false, Value::of_int(index)},
                     {"Name", "Name", false, Value::of_string(string_field(function, "name"))},
                     {"Arguments", "Arguments", false, args}});
    return make_struct("template.templateToolCall",
                       {{"ID", "ID", false, Value::of_string(string_field(call, "id"))},
                        {"Function", "Function", false, function_value}});
}

Value message_value(const Message& message) {
    Value tool_calls = Value::nil_list();
    if (!message.tool_calls.empty()) {
        std::vector<Value> calls;
        for (const json& call : message.tool_calls) calls.push_back(tool_call_value(call));
        tool_calls = Value::list(std::move(calls));
    }
    Value v =
        make_struct("*template.templateMessage",
                    {{"Role", "Role", false, Value::of_string(message.role)},
                     {"Content", "Content", false, Value::of_string(message.content)},
                     {"Thinking", "Thinking", false, Value::of_string(message.thinking)},
                     {"Images", "Images", false, Value::nil_list()},
                     {"ToolCalls", "ToolCalls", false, tool_calls},
                     {"ToolName", "ToolName", false, Value::of_string(message.tool_name)},
                     {"ToolCallID", "ToolCallID", false, Value::of_string(message.tool_call_id)}});
    return v;
}

Value string_list(const json& items) {
    if (!items.is_array()) return Value::nil_list();
    std::vector<Value> out;
    for (const json& item : items) {
        if (item.is_string()) out.push_back(Value::of_string(item.get<std::string>()));
    }
    return Value::list(std::move(out));
}

Value any_or_nil(const json& object, const char* key) {
    auto it = object.find(key);
    return it == object.end() ? Value::nil() : from_json(*it);
}

Value property_value(const json& property, int depth);

// Properties as Ollama's ordered map (nested) or as a plain Go map (top level of a tool).
std::vector<std::pair<std::string, Value>> property_entries(const json& properties, int depth) {
    std::vector<std::pair<std::string, Value>> entries;
    for (auto it = properties.begin(); it != properties.end(); ++it) {
        entries.emplace_back(it.key(), property_value(it.value(), depth + 1));
    }
    return entries;
}

// api.ToolProperty: the schema fields Ollama keeps (others are dropped on decoding).
Value property_value(const json& property, int depth) {
    if (depth > 64) throw Error("a tool schema nests too deeply");
    if (!property.is_object()) return make_struct("api.ToolProperty", {});
    Value any_of = Value::nil_list();
    if (property.contains("anyOf") && property["anyOf"].is_array()) {
        std::vector<Value> options;
        for (const json& option : property["anyOf"])
            options.push_back(property_value(option, depth + 1));
        any_of = Value::list(std::move(options));
    }
    Value type = Value::nil_list(Printing::kPropertyType);
    if (property.contains("type")) {
        const json& t = property["type"];
        if (t.is_string()) {
            type = Value::list({Value::of_string(t.get<std::string>())}, Printing::kPropertyType);
        } else if (t.is_array()) {
            type = string_list(t);
            type.printing = Printing::kPropertyType;
        }
    }
    Value enum_values = Value::nil_list();
    if (property.contains("enum") && property["enum"].is_array())
        enum_values = from_json(property["enum"]);
    Value nested = Value::nil();
    if (property.contains("properties") && property["properties"].is_object()) {
        nested = Value::ordered_map(property_entries(property["properties"], depth));
    }
    return make_struct(
        "api.ToolProperty",
        {{"AnyOf", "anyOf", true, any_of},
         {"Type", "type", true, type},
         {"Items", "items", true, any_or_nil(property, "items")},
         {"Description", "description", true,
          Value::of_string(string_field(property, "description"))},
         {"Enum", "enum", true, enum_values},
         {"Properties", "properties", true, nested},
         {"Required", "required", true, string_list(property.value("required", json()))}});
}

Value tool_value(const json& tool) {
    const json function = tool.contains("function") && tool["function"].is_object()
                              ? tool["function"]
                              : json::object();
    const json parameters = function.contains("parameters") && function["parameters"].is_object()
                                ? function["parameters"]
                                : json::object();
    Value properties = Value::nil_map(Printing::kJsonNilAsEmptyObject);
    if (parameters.contains("properties") && parameters["properties"].is_object()) {
        properties = Value::map(property_entries(parameters["properties"], 0),
                                Printing::kJsonNilAsEmptyObject);
    }
    Value parameters_value = make_struct(
        "template.templateToolFunctionParameters",
        {{"Type", "type", false, Value::of_string(string_field(parameters, "type"))},
         {"Defs", "$defs", true, any_or_nil(parameters, "$defs")},
         {"Items", "items", true, any_or_nil(parameters, "items")},
         {"Required", "required", true, string_list(parameters.value("required", json()))},
         {"Properties", "properties", false, properties}});
    Value function_value =
        make_struct("template.templateToolFunction",
                    {{"Name", "name", false, Value::of_string(string_field(function, "name"))},
                     {"Description", "description", false,
                      Value::of_string(string_field(function, "description"))},
                     {"Parameters", "parameters", false, parameters_value}});
    return make_struct("template.templateTool",
                       {{"Type", "type", false, Value::of_string(string_field(tool, "type"))},
                        {"Items", "items", true, any_or_nil(tool, "items")},
                        {"Function", "function", false, function_value}},
                       Printing::kJson);
}

// Consecutive messages of one role become one (joined by a blank line), except tool results;
// all system texts are also gathered for `.System`.
std::vector<Message> collate(const json& messages, std::string& system) {
    std::vector<Message> out;
    std::vector<std::string> system_texts;
    if (!messages.is_array()) return out;
    for (const json& raw : messages) {
        if (!raw.is_object()) continue;
        Message m;
        m.role = string_field(raw, "role");
        std::transform(m.role.begin(), m.role.end(), m.role.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        m.content = raw.contains("content") ? content_text(raw["content"]) : std::string();
        m.thinking = string_field(raw, "reasoning_content");
        if (m.thinking.empty()) m.thinking = string_field(raw, "thinking");
        if (raw.contains("tool_calls") && raw["tool_calls"].is_array())
            m.tool_calls = raw["tool_calls"];
        m.tool_name = string_field(raw, "tool_name");
        if (m.tool_name.empty()) m.tool_name = string_field(raw, "name");
        m.tool_call_id = string_field(raw, "tool_call_id");
        if (m.role == "system") system_texts.push_back(m.content);
        if (!out.empty() && out.back().role == m.role && m.role != "tool") {
            out.back().content += "\n\n" + m.content;
        } else {
            out.push_back(std::move(m));
        }
    }
    system.clear();
    for (size_t i = 0; i < system_texts.size(); ++i) {
        if (i) system += "\n\n";
        system += system_texts[i];
    }
    return out;
}

struct Think {
    bool think = false;
    bool is_set = false;
    std::string level;
};

Think think_values(const json& context) {
    Think t;
    for (const char* key : {"think", "enable_thinking"}) {
        auto it = context.find(key);
        if (it == context.end() || it->is_null()) continue;
        if (it->is_boolean()) {
            t.think = it->get<bool>();
            t.is_set = true;
        } else if (it->is_string()) {
            t.level = it->get<std::string>();
            t.think = true;
            t.is_set = true;
        }
        break;
    }
    return t;
}

void add_think(std::vector<std::pair<std::string, Value>>& data, const Think& think) {
    data.emplace_back("Think", Value::of_bool(think.think));
    data.emplace_back("ThinkLevel", Value::of_string(think.level));
    data.emplace_back("IsThinkSet", Value::of_bool(think.is_set));
}

}  // namespace

OllamaTemplate prepare_ollama_template(std::string_view source) {
    std::shared_ptr<Program> program = parse_program(source);
    std::set<std::string> names;
    collect_identifiers(*program->root, names);
    for (const auto& [name, body] : program->defines) collect_identifiers(*body, names);
    OllamaTemplate out;
    out.uses_messages = names.count("messages") > 0;
    if (!out.uses_messages && names.count("response") == 0) {
        program->root->children.push_back(response_action());
    }
    out.program = std::move(program);
    return out;
}

std::string render_ollama(const OllamaTemplate& tmpl, const json& context, const Limits& limits) {
    const Program& program = *tmpl.program;
    const Think think = think_values(context);
    const std::string prompt = string_field(context, "prompt");
    const std::string suffix = string_field(context, "suffix");
    std::string out;
    if (!prompt.empty() && !suffix.empty()) {
        std::vector<std::pair<std::string, Value>> data = {{"Prompt", Value::of_string(prompt)},
                                                           {"Suffix", Value::of_string(suffix)},
                                                           {"Response", Value::of_string("")}};
        add_think(data, think);
        execute(program, *program.root, Value::map(std::move(data)), limits, out);
        return out;
    }
    std::string system;
    const std::vector<Message> messages =
        collate(context.contains("messages") ? context["messages"] : json::array(), system);
    if (tmpl.uses_messages) {
        std::vector<Value> message_values;
        for (const Message& m : messages) message_values.push_back(message_value(m));
        Value tools = Value::nil_list(Printing::kJson);
        auto tools_it = context.find("tools");
        if (tools_it != context.end() && tools_it->is_array()) {
            std::vector<Value> items;
            for (const json& tool : *tools_it) items.push_back(tool_value(tool));
            tools = Value::list(std::move(items), Printing::kJson);
        }
        std::vector<std::pair<std::string, Value>> data = {
            {"System", Value::of_string(system)},
            {"Messages",
             message_values.empty() ? Value::nil_list() : Value::list(std::move(message_values))},
            {"Tools", tools},
            {"Response", Value::of_string("")}};
        add_think(data, think);
        execute(program, *program.root, Value::map(std::move(data)), limits, out);
        return out;
    }
    // Legacy templates: one render per System/Prompt/Response turn.
    std::string slot_system;
    std::string slot_prompt;
    std::string slot_response;
    auto slots = [&]() {
        std::vector<std::pair<std::string, Value>> data = {
            {"System", Value::of_string(slot_system)},
            {"Prompt", Value::of_string(slot_prompt)},
            {"Response", Value::of_string(slot_response)}};
        add_think(data, think);
        return Value::map(std::move(data));
    };
    auto render_turn = [&]() {
        execute(program, *program.root, slots(), limits, out);
        slot_system.clear();
        slot_prompt.clear();
        slot_response.clear();
    };
    for (const Message& m : messages) {
        if (m.role == "system") {
            if (!slot_prompt.empty() || !slot_response.empty()) render_turn();
            slot_system = m.content;
        } else if (m.role == "user") {
            if (!slot_response.empty()) render_turn();
            slot_prompt = m.content;
        } else if (m.role == "assistant") {
            slot_response = m.content;
        }
    }
    const NodePtr cut = ResponseCut().run(*program.root);
    if (cut) execute(program, *cut, slots(), limits, out);
    return out;
}

}  // namespace cria::chat::gotmpl

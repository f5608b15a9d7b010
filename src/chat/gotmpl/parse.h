// The parse tree of a Go text/template program, shaped like Go's text/template/parse nodes
// because Ollama rewrites that tree (it appends `{{ .Response }}` and cuts after it) and its
// rules are stated in terms of those nodes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cria::chat::gotmpl {

enum class NodeType {
    kList,        // children: the nodes in order
    kText,        // text
    kAction,      // pipe: {{ pipeline }}
    kIf,          // pipe, list, else_list
    kRange,       // pipe, list, else_list
    kWith,        // pipe, list, else_list
    kTemplate,    // text: the template's name; pipe: the argument (may be null)
    kBreak,       // {{ break }}
    kContinue,    // {{ continue }}
    kPipe,        // decl (is_assign), children: the commands
    kCommand,     // children: the operands
    kField,       // ident: .A.B
    kVariable,    // ident: $x.A.B ($x first)
    kChain,       // pipe: the receiver term; ident: the fields after it
    kIdentifier,  // text: a function name
    kDot,         // .
    kNil,         // nil
    kBool,        // boolean
    kNumber,      // is_int ? int_value : float_value
    kString,      // text: the unquoted string
};

struct Node;
using NodePtr = std::shared_ptr<Node>;

struct Node {
    NodeType type = NodeType::kList;
    uint32_t offset = 0;  // byte offset of the node in the source, for error messages
    std::string text;
    std::vector<std::string> ident;
    std::vector<NodePtr> children;
    NodePtr pipe;
    NodePtr list;
    NodePtr else_list;
    std::vector<std::string> decl;  // declared or assigned variables of a pipe
    bool is_assign = false;         // `=` rather than `:=`
    bool boolean = false;
    bool is_int = false;
    int64_t int_value = 0;
    double float_value = 0;
};

struct Program {
    std::string source;
    NodePtr root;                            // kList
    std::map<std::string, NodePtr> defines;  // {{ define }} and {{ block }} bodies (kList)
};

// The functions a template may call: Go's built-ins and the ones Ollama adds.
bool is_known_function(std::string_view name);

// Parses a template; throws Error with the offset of the problem.
std::shared_ptr<Program> parse_program(std::string_view source);

// "line L, column C" of a byte offset.
std::string describe_position(std::string_view source, uint32_t offset);

}  // namespace cria::chat::gotmpl

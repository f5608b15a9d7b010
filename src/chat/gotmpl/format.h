// Go's fmt printing (print, println, printf) and the escapers text/template offers (html, js,
// urlquery), for template values.
#pragma once

#include <string>
#include <vector>

#include "chat/gotmpl/value.h"

namespace cria::chat::gotmpl {

// fmt.Sprint (spaces between operands when neither is a string) or fmt.Sprintln (always
// spaces, and a final newline).
std::string sprint(const std::vector<Value>& args, bool line);

// fmt.Sprintf for the verbs templates use: %v %s %q %d %t %f %F %e %E %g %G %x %X %c %o %b %%,
// with flags (- + space 0 #), width and precision, and Go's %!verb(type=value) forms for
// mismatches, missing and extra operands.
std::string sprintf_go(const std::string& format, const std::vector<Value>& args);

std::string escape_html(const std::string& text);   // template.HTMLEscapeString
std::string escape_js(const std::string& text);     // template.JSEscapeString
std::string escape_query(const std::string& text);  // url.QueryEscape

// strconv.Quote.
std::string quote_go(const std::string& text);

}  // namespace cria::chat::gotmpl

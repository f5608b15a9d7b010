// Python's datetime.strftime() for the naive local time that strftime_now() formats, in the C
// locale (which is what Python uses unless a program changes LC_TIME).
#pragma once

#include <string>
#include <string_view>

namespace cria::chat::jinja {

struct DateTime {
    int year = 1970;
    int month = 1;  // 1..12
    int day = 1;    // 1..31
    int hour = 0;
    int minute = 0;
    int second = 0;
    int microsecond = 0;
};

// The current local time.
DateTime local_now();

// Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" (a space may replace the T).
bool parse_iso_datetime(std::string_view text, DateTime& out);

// Formats like datetime.strftime: %a %A %b %B %c %C %d %D %e %f %F %g %G %h %H %I %j %k %l
// %m %M %n %p %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%, with glibc's '-', '_',
// '0' and '^' flags. Unknown directives are copied through, as glibc does.
std::string format_datetime(const DateTime& time, std::string_view format);

}  // namespace cria::chat::jinja

#include "chat/jinja/strftime.h"

#include <cstdio>
#include <ctime>

namespace cria::chat::jinja {
namespace {

const char* const kDayAbbr[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kDayFull[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                "Thursday", "Friday", "Saturday"};
const char* const kMonthAbbr[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char* const kMonthFull[] = {"January",   "February", "March",    "April",
                                  "May",       "June",     "July",     "August",
                                  "September", "October",  "November", "December"};

bool is_leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int weekday(const DateTime& t) {  // 0 = Sunday
    const int64_t days = days_from_civil(t.year, t.month, t.day);
    return static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
}

int day_of_year(const DateTime& t) {  // 0-based
    int yday = t.day - 1;
    for (int m = 1; m < t.month; ++m) yday += days_in_month(t.year, m);
    return yday;
}

int iso_weeks_in_year(int year) {
    auto p = [](int y) { return (y + y / 4 - y / 100 + y / 400) % 7; };
    return (p(year) == 4 || p(year - 1) == 3) ? 53 : 52;
}

// ISO 8601 week-based year and week number.
void iso_week(const DateTime& t, int& iso_year, int& week) {
    const int wday = weekday(t);
    const int iso_wday = wday == 0 ? 7 : wday;  // Monday = 1
    const int ordinal = day_of_year(t) + 1;
    int w = (ordinal - iso_wday + 10) / 7;
    iso_year = t.year;
    if (w < 1) {
        iso_year = t.year - 1;
        w = iso_weeks_in_year(iso_year);
    } else if (w > iso_weeks_in_year(t.year)) {
        iso_year = t.year + 1;
        w = 1;
    }
    week = w;
}

std::string number(int64_t value, int width, char pad, char flag) {
    if (flag == '-') return std::to_string(value);
    if (flag == '_') pad = ' ';
    if (flag == '0') pad = '0';
    std::string digits = std::to_string(value < 0 ? -value : value);
    std::string out = value < 0 ? "-" : "";
    if (static_cast<int>(digits.size()) < width) {
        out.append(static_cast<size_t>(width) - digits.size(), pad);
    }
    return out + digits;
}

void uppercase_ascii(std::string& s) {
    for (char& c : s) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    }
}

}  // namespace

DateTime local_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    localtime_r(&ts.tv_sec, &tm);
    DateTime t;
    t.year = tm.tm_year + 1900;
    t.month = tm.tm_mon + 1;
    t.day = tm.tm_mday;
    t.hour = tm.tm_hour;
    t.minute = tm.tm_min;
    t.second = tm.tm_sec;
    t.microsecond = static_cast<int>(ts.tv_nsec / 1000);
    return t;
}

bool parse_iso_datetime(std::string_view text, DateTime& out) {
    auto read = [&](size_t pos, size_t len, int& value) {
        if (pos + len > text.size()) return false;
        value = 0;
        for (size_t i = pos; i < pos + len; ++i) {
            if (text[i] < '0' || text[i] > '9') return false;
            value = value * 10 + (text[i] - '0');
        }
        return true;
    };
    DateTime t;
    if (!read(0, 4, t.year) || text.size() < 10 || text[4] != '-' || !read(5, 2, t.month) ||
        text[7] != '-' || !read(8, 2, t.day)) {
        return false;
    }
    if (t.year < 1 || t.month < 1 || t.month > 12 || t.day < 1 ||
        t.day > days_in_month(t.year, t.month)) {
        return false;
    }
    size_t pos = 10;
    if (pos < text.size()) {
        if (text[pos] != 'T' && text[pos] != ' ') return false;
        if (!read(pos + 1, 2, t.hour) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
            !read(pos + 4, 2, t.minute)) {
            return false;
        }
        pos += 6;
        if (pos < text.size()) {
            if (text[pos] != ':' || !read(pos + 1, 2, t.second)) return false;
            pos += 3;
            if (pos < text.size()) {
                if (text[pos] != '.') return false;
                size_t digits = 0;
                int micro = 0;
                for (size_t i = pos + 1; i < text.size(); ++i, ++digits) {
                    if (text[i] < '0' || text[i] > '9' || digits >= 6) return false;
                    micro = micro * 10 + (text[i] - '0');
                }
                if (digits == 0) return false;
                for (size_t i = digits; i < 6; ++i) micro *= 10;
                t.microsecond = micro;
            }
        }
        if (t.hour > 23 || t.minute > 59 || t.second > 59) return false;
    }
    out = t;
    return true;
}

namespace {

// The text of one directive; `known` is false for directives glibc does not define.
std::string directive_text(const DateTime& t, char directive, char flag, bool& known) {
    const int wday = weekday(t);
    const int yday = day_of_year(t);
    const int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
    known = true;
    switch (directive) {
        case 'a':
            return kDayAbbr[wday];
        case 'A':
            return kDayFull[wday];
        case 'b':
        case 'h':
            return kMonthAbbr[t.month - 1];
        case 'B':
            return kMonthFull[t.month - 1];
        case 'c':
            return format_datetime(t, "%a %b %e %H:%M:%S %Y");
        case 'C':
            return number(t.year / 100, 2, '0', flag);
        case 'd':
            return number(t.day, 2, '0', flag);
        case 'D':
            return format_datetime(t, "%m/%d/%y");
        case 'e':
            return number(t.day, 2, ' ', flag);
        case 'f':
            return number(t.microsecond, 6, '0', '\0');
        case 'F':
            return format_datetime(t, "%Y-%m-%d");
        case 'g':
        case 'G':
        case 'V': {
            int iso_year = 0;
            int week = 0;
            iso_week(t, iso_year, week);
            if (directive == 'G') return number(iso_year, 1, '0', flag);
            if (directive == 'g') return number(iso_year % 100, 2, '0', flag);
            return number(week, 2, '0', flag);
        }
        case 'H':
            return number(t.hour, 2, '0', flag);
        case 'I':
            return number(hour12, 2, '0', flag);
        case 'j':
            return number(yday + 1, 3, '0', flag);
        case 'k':
            return number(t.hour, 2, ' ', flag);
        case 'l':
            return number(hour12, 2, ' ', flag);
        case 'm':
            return number(t.month, 2, '0', flag);
        case 'M':
            return number(t.minute, 2, '0', flag);
        case 'n':
            return "\n";
        case 'p':
            return t.hour < 12 ? "AM" : "PM";
        case 'r':
            return format_datetime(t, "%I:%M:%S %p");
        case 'R':
            return format_datetime(t, "%H:%M");
        case 's': {
            std::tm tm{};
            tm.tm_year = t.year - 1900;
            tm.tm_mon = t.month - 1;
            tm.tm_mday = t.day;
            tm.tm_hour = t.hour;
            tm.tm_min = t.minute;
            tm.tm_sec = t.second;
            tm.tm_isdst = -1;
            return std::to_string(static_cast<int64_t>(mktime(&tm)));
        }
        case 'S':
            return number(t.second, 2, '0', flag);
        case 't':
            return "\t";
        case 'T':
            return format_datetime(t, "%H:%M:%S");
        case 'u':
            return number(wday == 0 ? 7 : wday, 1, '0', flag);
        case 'U':
            return number((yday + 7 - wday) / 7, 2, '0', flag);
        case 'w':
            return number(wday, 1, '0', flag);
        case 'W':
            return number((yday + 7 - (wday + 6) % 7) / 7, 2, '0', flag);
        case 'x':
            return format_datetime(t, "%m/%d/%y");
        case 'X':
            return format_datetime(t, "%H:%M:%S");
        case 'y':
            return number(t.year % 100, 2, '0', flag);
        case 'Y':
            return number(t.year, 1, '0', flag);
        case 'z':
        case 'Z':
            return "";  // naive datetime: no zone
        case '%':
            return "%";
        default:
            known = false;
            return "";
    }
}

}  // namespace

std::string format_datetime(const DateTime& t, std::string_view format) {
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%' || i + 1 >= format.size()) {
            out.push_back(format[i]);
            continue;
        }
        const size_t start = i;
        size_t j = i + 1;
        char flag = '\0';
        if (format[j] == '-' || format[j] == '_' || format[j] == '0' || format[j] == '^') {
            flag = format[j++];
        }
        if (j >= format.size()) {
            out.append(format.substr(start));
            break;
        }
        i = j;
        bool known = true;
        std::string piece = directive_text(t, format[j], flag, known);
        if (!known) {
            out.append(format.substr(start, j - start + 1));
            continue;
        }
        if (flag == '^') uppercase_ascii(piece);
        out += piece;
    }
    return out;
}

}  // namespace cria::chat::jinja

#include "tokenizer/pretokenizer.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <string>

namespace cria::tokenizer {
namespace {

using unicode::CodepointText;

// A matcher tries one pattern at `pos` inside a piece that ends at `end` and returns where the
// match ends, or `pos` when the pattern does not match there. Alternatives are tried in pattern
// order and quantifiers are greedy with backtracking, as in the regex engines the patterns come
// from. A matcher that learns that no match can start before some later position says so in
// `*retry_from`, which keeps patterns such as `\s+$` linear on long whitespace runs.
using Matcher = size_t (*)(const CodepointText& t, size_t pos, size_t end, size_t* retry_from);

bool has(const CodepointText& t, size_t i, uint8_t classes) {
    return (t.classes[i] & classes) != 0;
}
bool is_letter(const CodepointText& t, size_t i) {
    return has(t, i, unicode::kLetter);
}
bool is_number(const CodepointText& t, size_t i) {
    return has(t, i, unicode::kNumber);
}
bool is_space(const CodepointText& t, size_t i) {
    return has(t, i, unicode::kWhitespace);
}
// `[^\s\p{L}\p{N}]`
bool is_other(const CodepointText& t, size_t i) {
    return !has(t, i, unicode::kWhitespace | unicode::kLetter | unicode::kNumber);
}

// End of the run of code points from `i` that satisfy `pred`.
template <typename Pred>
size_t run_end(const CodepointText& t, size_t i, size_t end, Pred pred) {
    while (i < end && pred(t, i)) ++i;
    return i;
}

uint32_t ascii_lower(uint32_t cp) {
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
}

// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive. Returns the match end or `pos`.
size_t match_contraction(const CodepointText& t, size_t pos, size_t end, bool ignore_case) {
    if (t.cps[pos] != '\'' || pos + 1 >= end) return pos;
    auto fold = [&](size_t i) { return ignore_case ? ascii_lower(t.cps[i]) : t.cps[i]; };
    const uint32_t c1 = fold(pos + 1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return pos + 2;
    if (pos + 2 >= end) return pos;
    const uint32_t c2 = fold(pos + 2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
        return pos + 3;
    }
    return pos;
}

// Llama 3 and Qwen 2:
// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//  \s*[\r\n]+|\s+(?!\S)|\s+` with D = kMaxDigits.
template <size_t kMaxDigits>
size_t match_llama3_like(const CodepointText& t, size_t pos, size_t end, size_t*) {
    if (const size_t q = match_contraction(t, pos, end, /*ignore_case=*/true); q > pos) return q;
    const uint32_t cp = t.cps[pos];
    if (is_letter(t, pos)) return run_end(t, pos, end, is_letter);
    if (!is_number(t, pos) && !unicode::is_cr_or_lf(cp) && pos + 1 < end && is_letter(t, pos + 1)) {
        return run_end(t, pos + 1, end, is_letter);
    }
    if (is_number(t, pos)) {
        size_t q = pos;
        while (q < end && q - pos < kMaxDigits && is_number(t, q)) ++q;
        return q;
    }
    size_t start = pos;
    if (cp == ' ' && pos + 1 < end && is_other(t, pos + 1)) start = pos + 1;
    if (is_other(t, start)) {
        size_t q = run_end(t, start, end, is_other);
        while (q < end && unicode::is_cr_or_lf(t.cps[q])) ++q;
        return q;
    }
    // Only whitespace is left at `pos`.
    const size_t space_end = run_end(t, pos, end, is_space);
    // `\s*[\r\n]+`: the greedy `\s*` backs off to the last line break of the run.
    for (size_t i = space_end; i > pos; --i) {
        if (unicode::is_cr_or_lf(t.cps[i - 1])) return i;
    }
    // `\s+(?!\S)`: all of the run at the end of the piece, else all but its last character.
    if (space_end == end || space_end - pos >= 2) return space_end == end ? end : space_end - 1;
    return space_end;  // `\s+`
}

// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
size_t match_gpt2(const CodepointText& t, size_t pos, size_t end, size_t*) {
    if (const size_t q = match_contraction(t, pos, end, /*ignore_case=*/false); q > pos) return q;
    const bool space_first = t.cps[pos] == ' ' && pos + 1 < end;
    using Pred = bool (*)(const CodepointText&, size_t);
    for (const Pred pred : {Pred{is_letter}, Pred{is_number}, Pred{is_other}}) {
        if (space_first && pred(t, pos + 1)) return run_end(t, pos + 1, end, pred);
        if (pred(t, pos)) return run_end(t, pos, end, pred);
    }
    if (is_space(t, pos)) {
        const size_t space_end = run_end(t, pos, end, is_space);
        if (space_end == end) return end;
        if (space_end - pos >= 2) return space_end - 1;
    }
    return pos;
}

// `\p{N}`
size_t match_one_number(const CodepointText& t, size_t pos, size_t, size_t*) {
    return is_number(t, pos) ? pos + 1 : pos;
}

// `\p{N}+`
size_t match_number_run(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return run_end(t, pos, end, is_number);
}

// `[0-9][0-9][0-9]`
size_t match_three_ascii_digits(const CodepointText& t, size_t pos, size_t end, size_t*) {
    if (pos + 3 > end) return pos;
    for (size_t i = pos; i < pos + 3; ++i) {
        if (t.cps[i] < '0' || t.cps[i] > '9') return pos;
    }
    return pos + 3;
}

bool is_ascii_symbol_in(const CodepointText& t, size_t i, std::string_view set) {
    const uint32_t cp = t.cps[i];
    return cp < 128 && set.find(static_cast<char>(cp)) != std::string_view::npos;
}

// Falcon: `[\p{P}\$\+<=>\^~\|`]+`
size_t match_punctuation_run_falcon(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return run_end(t, pos, end, [](const CodepointText& tt, size_t i) {
        return has(tt, i, unicode::kPunctuation) || is_ascii_symbol_in(tt, i, "$+<=>^~|`");
    });
}

// Default: `[\p{P}\$\+<=>\^~\|]+` (no backquote)
size_t match_punctuation_run_default(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return run_end(t, pos, end, [](const CodepointText& tt, size_t i) {
        return has(tt, i, unicode::kPunctuation) || is_ascii_symbol_in(tt, i, "$+<=>^~|");
    });
}

// `[\r\n]`
size_t match_line_break(const CodepointText& t, size_t pos, size_t, size_t*) {
    return unicode::is_cr_or_lf(t.cps[pos]) ? pos + 1 : pos;
}

// `\s?X+` for a character class X.
template <typename Pred>
size_t match_optional_space_then_run(const CodepointText& t, size_t pos, size_t end, Pred pred) {
    if (is_space(t, pos) && pos + 1 < end && pred(t, pos + 1))
        return run_end(t, pos + 1, end, pred);
    if (pred(t, pos)) return run_end(t, pos, end, pred);
    return pos;
}

// `\s?\p{L}+`
size_t match_space_letters(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return match_optional_space_then_run(t, pos, end, is_letter);
}

// `\s?\p{P}+`
size_t match_space_punctuation(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return match_optional_space_then_run(t, pos, end, [](const CodepointText& tt, size_t i) {
        return has(tt, i, unicode::kPunctuation);
    });
}

struct CodepointRange {
    uint32_t first;
    uint32_t last;
};

template <size_t N>
bool in_ranges(const std::array<CodepointRange, N>& ranges, uint32_t cp) {
    // Ranges are sorted and disjoint: binary search for the last range starting at or before cp.
    auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                               [](uint32_t c, const CodepointRange& r) { return c < r.first; });
    if (it == ranges.begin()) return false;
    --it;
    return cp <= it->last;
}

// DeepSeek's `[一-龥ࠀ-一가-퟿]+`: U+4E00..U+9FA5, U+0800..U+4E00 and U+AC00..U+D7FF, merged.
constexpr std::array<CodepointRange, 2> kDeepseekCjkRanges = {{{0x0800, 0x9FA5}, {0xAC00, 0xD7FF}}};

size_t match_cjk_run(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return run_end(t, pos, end, [](const CodepointText& tt, size_t i) {
        return in_ranges(kDeepseekCjkRanges, tt.cps[i]);
    });
}

// The letter class that DeepSeek LLM's pre-tokenizer spells out range by range (it is the cased
// letters, Lu/Ll/Lt, of the Unicode version the model was trained with). These ranges are part
// of the model's pattern, not a category table.
constexpr std::array<CodepointRange, 84> kDeepseekLetterRanges = {{
    {0x0041, 0x005A},   {0x0061, 0x007A},   {0x00B5, 0x00B5},   {0x00C0, 0x00D6},
    {0x00D8, 0x00F6},   {0x00F8, 0x01BA},   {0x01BC, 0x01BF},   {0x01C4, 0x0293},
    {0x0295, 0x02AF},   {0x0370, 0x0373},   {0x0376, 0x0377},   {0x037B, 0x037D},
    {0x037F, 0x037F},   {0x0386, 0x0386},   {0x0388, 0x038A},   {0x038C, 0x038C},
    {0x038E, 0x03A1},   {0x03A3, 0x03F5},   {0x03F7, 0x0481},   {0x048A, 0x052F},
    {0x0531, 0x0556},   {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
}};

// `\s?[A-Za-zµÀ-ÖØ-öø-ƺ...]+`
size_t match_space_deepseek_letters(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return match_optional_space_then_run(t, pos, end, [](const CodepointText& tt, size_t i) {
        return in_ranges(kDeepseekLetterRanges, tt.cps[i]);
    });
}

// `\s?[!-/:-~！-／：-～‘-‟　-。]+`
constexpr std::array<CodepointRange, 6> kDeepseekPunctuationRanges = {{
    {0x0021, 0x002F},
    {0x003A, 0x007E},
    {0x2018, 0x201F},
    {0x3000, 0x3002},
    {0xFF01, 0xFF0F},
    {0xFF1A, 0xFF5E},
}};

size_t match_space_deepseek_punctuation(const CodepointText& t, size_t pos, size_t end, size_t*) {
    return match_optional_space_then_run(t, pos, end, [](const CodepointText& tt, size_t i) {
        return in_ranges(kDeepseekPunctuationRanges, tt.cps[i]);
    });
}

// `\s+$`: whitespace that runs to the end of the piece.
size_t match_trailing_space(const CodepointText& t, size_t pos, size_t end, size_t* retry_from) {
    if (!is_space(t, pos)) return pos;
    const size_t space_end = run_end(t, pos, end, is_space);
    if (space_end == end) return end;
    *retry_from = space_end;  // every later start in this run ends at the same place
    return pos;
}

// Splits every span of `in` by one pattern: matches and the unmatched stretches between them
// both become pieces, in order.
void split_by(Matcher matcher, const CodepointText& t, const std::vector<WordSpan>& in,
              std::vector<WordSpan>& out) {
    out.clear();
    for (const WordSpan& span : in) {
        size_t unmatched_from = span.begin;
        size_t pos = span.begin;
        while (pos < span.end) {
            size_t retry_from = pos + 1;
            const size_t match_end = matcher(t, pos, span.end, &retry_from);
            if (match_end > pos) {
                if (unmatched_from < pos) out.push_back({unmatched_from, pos});
                out.push_back({pos, match_end});
                pos = match_end;
                unmatched_from = match_end;
            } else {
                pos = std::max(retry_from, pos + 1);
            }
        }
        if (unmatched_from < span.end) out.push_back({unmatched_from, span.end});
    }
}

struct PatternSequence {
    const Matcher* matchers;
    size_t count;
};

PatternSequence patterns_of(PreTokenizer kind) {
    static constexpr Matcher kDefault[] = {match_punctuation_run_default, match_gpt2,
                                           match_number_run, match_three_ascii_digits};
    static constexpr Matcher kLlama3[] = {match_llama3_like<3>};
    static constexpr Matcher kQwen2[] = {match_llama3_like<1>};
    static constexpr Matcher kGpt2[] = {match_gpt2};
    static constexpr Matcher kStarcoder[] = {match_one_number, match_gpt2};
    static constexpr Matcher kFalcon[] = {match_punctuation_run_falcon, match_gpt2,
                                          match_three_ascii_digits};
    static constexpr Matcher kDeepseekLlm[] = {match_line_break,
                                               match_space_deepseek_letters,
                                               match_space_deepseek_punctuation,
                                               match_trailing_space,
                                               match_cjk_run,
                                               match_number_run};
    static constexpr Matcher kDeepseekCoder[] = {match_line_break, match_space_letters,
                                                 match_space_punctuation, match_cjk_run,
                                                 match_one_number};
    switch (kind) {
        case PreTokenizer::kDefault:
            return {kDefault, std::size(kDefault)};
        case PreTokenizer::kLlama3:
            return {kLlama3, std::size(kLlama3)};
        case PreTokenizer::kQwen2:
            return {kQwen2, std::size(kQwen2)};
        case PreTokenizer::kGpt2:
            return {kGpt2, std::size(kGpt2)};
        case PreTokenizer::kStarcoder:
            return {kStarcoder, std::size(kStarcoder)};
        case PreTokenizer::kFalcon:
            return {kFalcon, std::size(kFalcon)};
        case PreTokenizer::kDeepseekLlm:
            return {kDeepseekLlm, std::size(kDeepseekLlm)};
        case PreTokenizer::kDeepseekCoder:
            return {kDeepseekCoder, std::size(kDeepseekCoder)};
    }
    return {kDefault, std::size(kDefault)};
}

struct NamedKind {
    std::string_view name;
    PreTokenizer kind;
};

// `tokenizer.ggml.pre` values and the pattern set each one uses.
constexpr NamedKind kNamedKinds[] = {
    {"default", PreTokenizer::kDefault},
    {"llama3", PreTokenizer::kLlama3},
    {"llama-v3", PreTokenizer::kLlama3},
    {"llama-bpe", PreTokenizer::kLlama3},
    {"falcon3", PreTokenizer::kLlama3},
    {"dbrx", PreTokenizer::kLlama3},
    {"smaug-bpe", PreTokenizer::kLlama3},
    {"qwen2", PreTokenizer::kQwen2},
    {"deepseek-r1-qwen", PreTokenizer::kQwen2},
    {"megrez", PreTokenizer::kQwen2},
    {"gpt-2", PreTokenizer::kGpt2},
    {"phi-2", PreTokenizer::kGpt2},
    {"mpt", PreTokenizer::kGpt2},
    {"olmo", PreTokenizer::kGpt2},
    {"jais", PreTokenizer::kGpt2},
    {"roberta-bpe", PreTokenizer::kGpt2},
    {"gigachat", PreTokenizer::kGpt2},
    {"jina-es", PreTokenizer::kGpt2},
    {"jina-de", PreTokenizer::kGpt2},
    {"jina-v1-en", PreTokenizer::kGpt2},
    {"jina-v2-es", PreTokenizer::kGpt2},
    {"jina-v2-de", PreTokenizer::kGpt2},
    {"jina-v2-code", PreTokenizer::kGpt2},
    {"starcoder", PreTokenizer::kStarcoder},
    {"refact", PreTokenizer::kStarcoder},
    {"command-r", PreTokenizer::kStarcoder},
    {"smollm", PreTokenizer::kStarcoder},
    {"codeshell", PreTokenizer::kStarcoder},
    {"exaone", PreTokenizer::kStarcoder},
    {"minerva-7b", PreTokenizer::kStarcoder},
    {"falcon", PreTokenizer::kFalcon},
    {"deepseek-llm", PreTokenizer::kDeepseekLlm},
    {"deepseek-coder", PreTokenizer::kDeepseekCoder},
};

}  // namespace

bool detail::in_deepseek_letter_class(uint32_t cp) {
    return in_ranges(kDeepseekLetterRanges, cp);
}

Expected<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
    if (name.empty()) return PreTokenizer::kDefault;
    for (const NamedKind& entry : kNamedKinds) {
        if (entry.name == name) return entry.kind;
    }
    return unsupported("unknown pre-tokenizer '" + std::string(name) +
                       "' (tokenizer.ggml.pre); supported: llama-bpe, qwen2, gpt-2, "
                       "deepseek-llm, deepseek-coder, falcon, mpt, starcoder, refact, default and "
                       "their aliases");
}

std::string_view pre_tokenizer_name(PreTokenizer kind) {
    switch (kind) {
        case PreTokenizer::kDefault:
            return "default";
        case PreTokenizer::kLlama3:
            return "llama3";
        case PreTokenizer::kQwen2:
            return "qwen2";
        case PreTokenizer::kGpt2:
            return "gpt-2";
        case PreTokenizer::kStarcoder:
            return "starcoder";
        case PreTokenizer::kFalcon:
            return "falcon";
        case PreTokenizer::kDeepseekLlm:
            return "deepseek-llm";
        case PreTokenizer::kDeepseekCoder:
            return "deepseek-coder";
    }
    return "default";
}

void pre_tokenize(PreTokenizer kind, const CodepointText& text, std::vector<WordSpan>& words,
                  std::vector<WordSpan>& scratch) {
    words.clear();
    if (text.size() == 0) return;
    const PatternSequence patterns = patterns_of(kind);
    // Ping-pong between the two buffers so that the last pattern writes into `words`.
    std::vector<WordSpan>* in = (patterns.count % 2 == 0) ? &words : &scratch;
    std::vector<WordSpan>* out = (patterns.count % 2 == 0) ? &scratch : &words;
    in->clear();
    in->push_back({0, text.size()});
    for (size_t i = 0; i < patterns.count; ++i) {
        split_by(patterns.matchers[i], text, *in, *out);
        std::swap(in, out);
    }
}

}  // namespace cria::tokenizer

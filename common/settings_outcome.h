// What parsing a daemon's command line and config file ends with, and the two ways a daemon uses it:
// at start (print what to print, give an exit code) and on a reload (nothing printed; the error text).
#pragma once

#include "result.h"

#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace minisync {

// Why parsing stopped: the exit code and what to print (help on stdout, errors on stderr).
struct ParseFailure {
    int exit_code = 2;
    std::string out;
    std::string err; // without the final newline
};

template <class Settings>
using ParseOutcome = std::variant<Settings, ParseFailure>;

// At start: the settings, or the exit code after printing why there are none.
template <class Settings>
std::variant<Settings, int> settings_for_start(ParseOutcome<Settings>&& outcome)
{
    if (auto* settings = std::get_if<Settings>(&outcome)) {
        return std::move(*settings);
    }
    const ParseFailure& failure = std::get<ParseFailure>(outcome);
    std::cout << failure.out << std::flush;
    if (!failure.err.empty()) {
        std::cerr << failure.err << "\n";
    }
    return failure.exit_code;
}

// On a reload: parse(argc, argv) run again over the saved command line (argv[0] included); the settings,
// or an Error (code Config) whose message is what would have been printed on stderr.
template <class Settings, class Parse>
Result<Settings> settings_for_reload(std::string_view program, const std::vector<std::string>& argv,
                                                        Parse parse)
{
    const std::string program_name{program};
    std::vector<const char*> pointers;
    if (argv.empty()) {
        pointers.push_back(program_name.c_str());
    }
    for (const std::string& arg : argv) {
        pointers.push_back(arg.c_str());
    }
    ParseOutcome<Settings> outcome = parse(static_cast<int>(pointers.size()), pointers.data());
    if (auto* settings = std::get_if<Settings>(&outcome)) {
        return std::move(*settings);
    }
    ParseFailure& failure = std::get<ParseFailure>(outcome);
    if (failure.err.empty()) { // --help on the command line: nothing to run with, and nothing wrong
        return Error{ErrorCode::Config, program_name + ": the command line asks for help, not for settings"};
    }
    return Error{ErrorCode::Config, std::move(failure.err)};
}

} // namespace minisync

#include "ctl_runner.h"

#include "child_process.h"

namespace minisync::test {

CtlResult run_ctl(const std::vector<std::string>& args, const std::filesystem::path& log,
                  std::chrono::milliseconds deadline, const std::vector<std::string>& prefix)
{
    std::string binary = MINISYNCCTL_BIN;
    std::vector<std::string> argv = args;
    if (!prefix.empty()) {
        binary = prefix.front();
        argv.assign(prefix.begin() + 1, prefix.end());
        argv.push_back(MINISYNCCTL_BIN);
        argv.insert(argv.end(), args.begin(), args.end());
    }
    ChildProcess child{binary, argv, log};
    CtlResult result;
    result.exit_code = child.wait_for_exit(deadline).value_or(-1);
    result.output = child.log_text();
    return result;
}

} // namespace minisync::test

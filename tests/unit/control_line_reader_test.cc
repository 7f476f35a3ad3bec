// Tests for control_line_reader.cc: lines cut from a byte stream, and the line limit.
#include "control_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace minisync::control {
namespace {

std::vector<std::string> lines_of(LineReader& reader, LineReader::Result* last)
{
    std::vector<std::string> lines;
    std::string line;
    while ((*last = reader.next(&line)) == LineReader::Result::Line) {
        lines.push_back(line);
    }
    return lines;
}

TEST(ControlLineReaderTest, LineReaderSplitsLines)
{
    LineReader reader{100};
    LineReader::Result last{};
    reader.append("{\"a\":1}\n{\"b\"");
    EXPECT_EQ(lines_of(reader, &last), std::vector<std::string>{"{\"a\":1}"});
    EXPECT_EQ(last, LineReader::Result::NeedMore);
    EXPECT_EQ(reader.buffered(), 4U);
    reader.append(":2}\n\nx\n");
    EXPECT_EQ(lines_of(reader, &last), (std::vector<std::string>{"{\"b\":2}", "", "x"}));
    EXPECT_EQ(last, LineReader::Result::NeedMore);
    EXPECT_EQ(reader.buffered(), 0U);
}

TEST(ControlLineReaderTest, LineReaderByteByByte)
{
    const std::string stream = "one\ntwo two\n\nthree\n";
    LineReader reader{10};
    std::vector<std::string> lines;
    for (const char c : stream) {
        reader.append(std::string_view{&c, 1});
        std::string line;
        while (reader.next(&line) == LineReader::Result::Line) {
            lines.push_back(line);
        }
    }
    EXPECT_EQ(lines, (std::vector<std::string>{"one", "two two", "", "three"}));
}

TEST(ControlLineReaderTest, LineReaderEnforcesTheLimit)
{
    LineReader exact{5};
    LineReader::Result last{};
    exact.append("12345\n");
    EXPECT_EQ(lines_of(exact, &last), std::vector<std::string>{"12345"});

    LineReader partial{5};
    partial.append("12345");
    EXPECT_EQ(lines_of(partial, &last).size(), 0U);
    EXPECT_EQ(last, LineReader::Result::NeedMore); // could still end here
    partial.append("6");
    lines_of(partial, &last);
    EXPECT_EQ(last, LineReader::Result::TooLong); // no need to wait for the "\n"

    LineReader after{5};
    after.append("ok\n123456\nok\n");
    EXPECT_EQ(lines_of(after, &last), std::vector<std::string>{"ok"});
    EXPECT_EQ(last, LineReader::Result::TooLong);
    std::string line;
    EXPECT_EQ(after.next(&line), LineReader::Result::TooLong); // and stays so
}

TEST(ControlLineReaderTest, LineReaderLongStream)
{
    LineReader reader{MaxRequestLine};
    const std::string line(1000, 'x');
    std::size_t count = 0;
    LineReader::Result last{};
    for (int i = 0; i < 1000; ++i) {
        reader.append(line + "\n" + line.substr(0, 10));
        reader.append(line.substr(10) + "\n");
        for (const std::string& got : lines_of(reader, &last)) {
            EXPECT_EQ(got, line);
            ++count;
        }
    }
    EXPECT_EQ(count, 2000U);
    EXPECT_EQ(reader.buffered(), 0U);
}

} // namespace
} // namespace minisync::control

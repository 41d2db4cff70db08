using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Guise.Primitives.Fte;

namespace Guise.Tests.Marionette;

public class FteTests
{
    [Theory]
    [InlineData("^(a|b)*$", 4, 16)]
    [InlineData("^[a-c]{2}x?$", 3, 9)]
    [InlineData("^[a-c]{2}x?$", 2, 9)]
    [InlineData("^ab|cd$", 2, 2)]
    [InlineData("^(ab)+$", 6, 1)]
    [InlineData("^(ab)+$", 5, 0)]
    [InlineData("^[0-9]{1,3}$", 2, 100)]
    [InlineData("^\\d+(\\.\\d+)?$", 3, 1100)]
    public void Counting_tables_count_the_strings_of_each_length(string regex, int length, int expected)
    {
        Assert.Equal(new BigInteger(expected), FteRanker.FromRegex(regex, length).Count);
    }

    [Theory]
    [InlineData("^(a|b)*$", 5)]
    [InlineData("^[a-c]{1,3}(x|yz)?$", 4)]
    [InlineData("^GET /[a-z0-9]* HTTP/1\\.1\\r\\n$", 19)]
    [InlineData("^[^a]b.$", 3)]
    public void Rank_and_unrank_are_inverse_bijections_on_small_languages(string regex, int length)
    {
        var ranker = FteRanker.FromRegex(regex, length);
        var count = (int)ranker.Count;
        Assert.InRange(count, 1, 300_000);
        var net = new Regex("\\A(?:" + regex.TrimStart('^').TrimEnd('$') + ")\\z", RegexOptions.Singleline);
        var seen = new HashSet<string>();
        var buffer = new byte[length];
        for (var r = 0; r < count; r++)
        {
            ranker.Unrank(r, buffer);
            Assert.True(ranker.Dfa.Matches(buffer));
            var text = Encoding.Latin1.GetString(buffer);
            if (!regex.Contains("[^", StringComparison.Ordinal) && !regex.Contains('.', StringComparison.Ordinal))
                Assert.Matches(net, text);
            Assert.True(seen.Add(text), $"rank {r} repeats {text}");
            Assert.True(ranker.TryRank(buffer, out var back));
            Assert.Equal(new BigInteger(r), back);
        }
        Assert.Equal(count, seen.Count);
    }

    [Fact]
    public void Unrank_rejects_ranks_outside_the_language_and_rank_rejects_strings_outside_it()
    {
        var ranker = FteRanker.FromRegex("^[ab]{3}$", 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => ranker.Unrank(8, new byte[3]));
        Assert.False(ranker.TryRank("abc"u8, out _));
        Assert.False(ranker.TryRank("ab"u8, out _));
    }

    [Theory]
    [InlineData("^PRIVMSG #[a-z]{4,10} :[A-Za-z0-9 ,.!?']+\\r\\n$", 512)]
    [InlineData("^GET /[a-zA-Z0-9/]+ HTTP/1\\.1\\r\\nHost: [a-z]{3,20}\\.com\\r\\n\\r\\n$", 256)]
    [InlineData("^\\C+$", 100)]
    public void Fte_encrypt_then_decrypt_round_trips_and_every_covertext_matches_the_regex(string regex, int length)
    {
        var ranker = FteRanker.FromRegex(regex, length);
        using var cipher = new RecordCipher(RandomNumberGenerator.GetBytes(32));
        var fte = new FteCipher(ranker, cipher);
        var net = new Regex(regex.Replace("\\C", "[\\s\\S]", StringComparison.Ordinal), RegexOptions.Singleline);
        for (var i = 0; i < 20; i++)
        {
            var plain = RandomNumberGenerator.GetBytes(fte.PlaintextLength);
            var cover = new byte[length];
            fte.Encrypt(plain, "ad"u8, cover);
            Assert.Matches(net, Encoding.Latin1.GetString(cover));
            var back = new byte[fte.PlaintextLength];
            Assert.True(fte.TryDecrypt(cover, "ad"u8, back));
            Assert.Equal(plain, back);
            // Tampering anywhere fails authentication (or falls out of the language).
            cover[i * 3 % length] ^= 1;
            Assert.False(fte.TryDecrypt(cover, "ad"u8, back));
        }
    }

    [Fact]
    public void A_covertext_under_another_key_does_not_decrypt()
    {
        var ranker = FteRanker.FromRegex("^[a-z]+$", 128);
        using var a = new RecordCipher(RandomNumberGenerator.GetBytes(32));
        using var b = new RecordCipher(RandomNumberGenerator.GetBytes(32));
        var cover = new byte[128];
        new FteCipher(ranker, a).Encrypt(new byte[new FteCipher(ranker, a).PlaintextLength], [], cover);
        Assert.False(new FteCipher(ranker, b).TryDecrypt(cover, [], new byte[new FteCipher(ranker, b).PlaintextLength]));
    }

    [Theory]
    [InlineData("^(ab$", "unclosed '('")]
    [InlineData("^[ab$", "unclosed '['")]
    [InlineData("^*a$", "nothing to repeat")]
    [InlineData("^a{5,2}$", "bad repeat")]
    [InlineData("^(?=a)$", "only (?: ) groups")]
    [InlineData("^\\q$", "unsupported escape")]
    public void Unsupported_or_broken_regexes_are_refused_with_an_offset(string regex, string reason)
    {
        var e = Assert.Throws<FteRegexException>(() => Dfa.FromRegex(regex));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.InRange(e.Offset, 0, regex.Length);
    }

    [Fact]
    public void The_dfa_is_minimal()
    {
        // (a|b)*abb has the textbook 4-state minimal DFA, plus nothing: every state is live.
        Assert.Equal(4, Dfa.FromRegex("^(a|b)*abb$").StateCount - 1); // -1: the dead state
    }
}

using System.Numerics;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Guise.Primitives.Fte;
using Guise.Transports.Marionette;

namespace Guise.Bench.Micro;

/// <summary>
/// FTE on the irc_lines client line (512 bytes): unrank one record into a covertext, rank it
/// back, and the whole sealed record → covertext → record round trip. Each irc_lines round trip
/// does two of each (one line each way), so these bound that format's goodput.
/// </summary>
[MemoryDiagnoser]
public class FteBenchmarks
{
    private FteRanker _ranker = null!;
    private FteCipher _encrypt = null!;
    private FteCipher _decrypt = null!;
    private BigInteger _rank;
    private byte[] _covertext = null!;
    private byte[] _plain = null!;
    private byte[] _wire = null!;
    private byte[] _opened = null!;

    [GlobalSetup]
    public void Setup()
    {
        var line = MarionetteFormat.Resolve("irc_lines").Outgoing("talk").Single(e => !e.IsError).Block.Messages.OfType<FteMessage>().First();
        _ranker = line.Ranker;
        var key = RandomNumberGenerator.GetBytes(32);
        _encrypt = new FteCipher(_ranker, new RecordCipher(key));
        _decrypt = new FteCipher(_ranker, new RecordCipher(key));
        _rank = new BigInteger(RandomNumberGenerator.GetBytes(_ranker.CapacityBytes), isUnsigned: true);
        _covertext = new byte[_ranker.Length];
        _ranker.Unrank(_rank, _covertext);
        _plain = RandomNumberGenerator.GetBytes(_encrypt.PlaintextLength);
        _wire = new byte[_ranker.Length];
        _opened = new byte[_encrypt.PlaintextLength];
    }

    [Benchmark(Description = "FTE unrank (irc_lines, 512 B line)")]
    public byte Unrank()
    {
        _ranker.Unrank(_rank, _covertext);
        return _covertext[^1];
    }

    [Benchmark(Description = "FTE rank (irc_lines, 512 B line)")]
    public bool Rank() => _ranker.TryRank(_covertext, out _);

    [Benchmark(Description = "FTE seal + unrank + rank + open (irc_lines, 512 B line)")]
    public bool RoundTrip()
    {
        _encrypt.Encrypt(_plain, [], _wire);
        return _decrypt.TryDecrypt(_wire, [], _opened);
    }
}

using System.Buffers.Binary;
using System.IO.Compression;

namespace Guise.Interop.Tests.Support;

/// <summary>
/// Just enough of PNG (RFC 2083) to look at a browser screenshot: 8-bit RGB or RGBA, not
/// interlaced. IDAT chunks are one zlib stream of scanlines, each led by a filter byte.
/// </summary>
public sealed class Png
{
    private readonly byte[] _rgba;

    private Png(int width, int height, byte[] rgba)
    {
        Width = width;
        Height = height;
        _rgba = rgba;
    }

    public int Width { get; }

    public int Height { get; }

    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            var i = (y * Width + x) * 4;
            return (_rgba[i], _rgba[i + 1], _rgba[i + 2]);
        }
    }

    public static Png Read(byte[] file)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!file.AsSpan(0, 8).SequenceEqual(signature))
            throw new InvalidDataException("not a PNG");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (var at = 8; at < file.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at));
            var type = System.Text.Encoding.ASCII.GetString(file, at + 4, 4);
            var data = file.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                var (depth, color, interlace) = (data[8], data[9], data[12]);
                channels = color switch { 2 => 3, 6 => 4, _ => 0 };
                if (depth != 8 || channels == 0 || interlace != 0)
                    throw new InvalidDataException($"PNG depth {depth} color type {color} interlace {interlace} is not supported here");
            }
            else if (type == "IDAT")
            {
                idat.Write(data);
            }
            at += 12 + length;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var stride = width * channels;
        var raw = new byte[(stride + 1) * height];
        z.ReadExactly(raw);
        var rgba = new byte[width * height * 4];
        var previous = new byte[stride];
        var line = new byte[stride];
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            raw.AsSpan(y * (stride + 1) + 1, stride).CopyTo(line);
            for (var i = 0; i < stride; i++)
            {
                int left = i >= channels ? line[i - channels] : 0, up = previous[i], upLeft = i >= channels ? previous[i - channels] : 0;
                line[i] += filter switch
                {
                    0 => 0,
                    1 => (byte)left,
                    2 => (byte)up,
                    3 => (byte)((left + up) / 2),
                    4 => (byte)Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                };
            }
            for (var x = 0; x < width; x++)
            {
                line.AsSpan(x * channels, 3).CopyTo(rgba.AsSpan((y * width + x) * 4));
                rgba[(y * width + x) * 4 + 3] = channels == 4 ? line[x * channels + 3] : (byte)255;
            }
            (previous, line) = (line, previous);
        }
        return new Png(width, height, rgba);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var (pa, pb, pc) = (Math.Abs(p - a), Math.Abs(p - b), Math.Abs(p - c));
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}

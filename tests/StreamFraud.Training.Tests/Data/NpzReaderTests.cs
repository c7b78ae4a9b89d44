using StreamFraud.Training.Data;
using static StreamFraud.Training.Tests.Data.NpyWriter;

namespace StreamFraud.Training.Tests.Data;

public class NpzReaderTests
{
    // X: 3 rows × 2 features; y: 0, 1, 0.
    private static readonly float[] X3x2 = [0.5f, -1.25f, 3f, 1e-3f, 2.5f, -7f];

    private static NpzDataset ReadBytes(byte[] npz) => NpzReader.Read(new MemoryStream(npz), "data.npz");

    private static NpzFormatException Fails(byte[] npz) => Assert.Throws<NpzFormatException>(() => ReadBytes(npz));

    private static byte[] GoodX() => Npy("<f4", "(3, 2)", F4(X3x2));

    private static byte[] GoodY() => Npy("<i8", "(3,)", I8(0, 1, 0));

    [Fact]
    public void Read_Float32_ValuesRowMajor()
    {
        var ds = ReadBytes(Npz(("X.npy", GoodX()), ("y.npy", GoodY())));

        Assert.Equal(3, ds.Rows);
        Assert.Equal(2, ds.FeatureCount);
        Assert.Equal(X3x2, ds.Features.ToArray());
        Assert.Equal([false, true, false], ds.Labels.ToArray());
        Assert.Equal(1, ds.Positives);
        Assert.Equal([3f, 1e-3f], ds.Row(1).ToArray());
        Assert.Equal([3f, 1e-3f, 2.5f, -7f], ds.RowRange(1, 2).ToArray());
        Assert.Equal("<f4", ds.FeatureDtype);
        Assert.Equal("<i8", ds.LabelDtype);
        Assert.Equal("precomputed:2", ds.Spec.Name);
        Assert.Equal("data.npz", ds.Source);
    }

    [Fact]
    public void Read_Float64_NarrowedToNearestFloat32()
    {
        double[] values = [0.1, 1.0 / 3.0, -2.5e-8, 123456789.123, 0, 1e30];
        var ds = ReadBytes(Npz(("X.npy", Npy("<f8", "(2, 3)", F8(values))), ("y.npy", Npy("|b1", "(2,)", U1(1, 0)))));

        Assert.Equal(values.Select(v => (float)v).ToArray(), ds.Features.ToArray());
        Assert.Equal([true, false], ds.Labels.ToArray());
        Assert.Equal("<f8", ds.FeatureDtype);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Read_HeaderVersions_Accepted(int major)
    {
        var ds = ReadBytes(Npz(("X.npy", Npy("<f4", "(3, 2)", F4(X3x2), major: major)), ("y.npy", Npy("<i8", "(3,)", I8(0, 1, 0), major: major))));
        Assert.Equal(X3x2, ds.Features.ToArray());
    }

    [Fact]
    public void Read_Compressed_LikeSavezCompressed()
    {
        var ds = ReadBytes(Npz(compressed: true, ("X.npy", GoodX()), ("y.npy", GoodY())));
        Assert.Equal(X3x2, ds.Features.ToArray());
    }

    [Fact]
    public void Read_PythonZipfileForceZip64_LikeNpSavez()
    {
        // Written by CPython's zipfile exactly as np.savez does (ZIP_STORED, zf.open(name, 'w', force_zip64=True):
        // local headers carry 0xFFFFFFFF sizes and a zip64 extra field), with .npy bytes built per the format spec:
        // X = float32 [[0.5, -1.25, 3], [0.001, 2.5, -0]], y = int64 [0, 1].
        const string Base64 =
            "UEsDBC0AAAAAAAAAIQBRyGxq//////////8FABQAWC5ucHkBABAAmAAAAAAAAACYAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmNCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgyLCAzKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAPwAAoL8AAEBAbxKDOgAAIEAAAACAUEsDBC0AAAAAAAAAIQB+avvJ//////////8FABQAeS5ucHkBABAAkAAAAAAAAACQAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxpOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgyLCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAAAAABAAAAAAAAAFBLAQItAy0AAAAAAAAAIQBRyGxqmAAAAJgAAAAFAAAAAAAAAAAAAACAAQAAAABYLm5weVBLAQItAy0AAAAAAAAAIQB+avvJkAAAAJAAAAAFAAAAAAAAAAAAAACAAc8AAAB5Lm5weVBLBQYAAAAAAgACAGYAAACWAQAAAAA=";
        var ds = ReadBytes(Convert.FromBase64String(Base64));

        Assert.Equal(2, ds.Rows);
        Assert.Equal(3, ds.FeatureCount);
        Assert.Equal([0.5f, -1.25f, 3f, 1e-3f, 2.5f, -0f], ds.Features.ToArray());
        Assert.Equal([false, true], ds.Labels.ToArray());
    }

    [Theory]
    [InlineData("|u1")]
    [InlineData("|b1")]
    [InlineData("<i4")]
    [InlineData("<i8")]
    [InlineData("<f4")]
    [InlineData("<f8")]
    [InlineData("|i1")]
    [InlineData("<u2")]
    public void Read_LabelDtypes_Accepted(string descr)
    {
        byte[] data = descr switch
        {
            "|u1" or "|b1" or "|i1" => U1(0, 1, 1),
            "<i4" => I4(0, 1, 1),
            "<i8" => I8(0, 1, 1),
            "<f4" => F4(0, 1, 1),
            "<f8" => F8(0, 1, 1),
            "<u2" => [0, 0, 1, 0, 1, 0],
            _ => throw new ArgumentException(descr),
        };
        var ds = ReadBytes(Npz(("X.npy", GoodX()), ("y.npy", Npy(descr, "(3,)", data))));
        Assert.Equal([false, true, true], ds.Labels.ToArray());
        Assert.Equal(descr, ds.LabelDtype);
    }

    [Fact]
    public void Read_LabelsAsColumn_Accepted()
    {
        var ds = ReadBytes(Npz(("X.npy", GoodX()), ("y.npy", Npy("<i8", "(3, 1)", I8(1, 0, 1)))));
        Assert.Equal([true, false, true], ds.Labels.ToArray());
    }

    [Fact]
    public void Read_FromFilePath_NamesFileInErrors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sf-npz-{Guid.NewGuid():N}.npz");
        try
        {
            File.WriteAllBytes(path, Npz(("X.npy", GoodX()), ("y.npy", GoodY())));
            Assert.Equal(3, NpzReader.Read(path).Rows);

            File.WriteAllBytes(path, Npz(("X.npy", GoodX())));
            var ex = Assert.Throws<NpzFormatException>(() => NpzReader.Read(path));
            Assert.StartsWith(Path.GetFileName(path) + ": ", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_FortranOrder_RejectedWithFix()
    {
        var ex = Fails(Npz(("X.npy", Npy("<f4", "(3, 2)", F4(X3x2), fortranOrder: true)), ("y.npy", GoodY())));
        Assert.Equal("data.npz: X.npy: fortran_order=True is not supported; save with np.ascontiguousarray(X)", ex.Message);
        Assert.Equal("X", ex.ArrayName);
    }

    [Fact]
    public void Read_BigEndianFeatures_Rejected()
    {
        var ex = Fails(Npz(("X.npy", Npy(">f4", "(3, 2)", F4BigEndian(X3x2))), ("y.npy", GoodY())));
        Assert.Contains("X.npy: big-endian dtype '>f4' is not supported", ex.Message);
        Assert.Contains(".astype('<f4')", ex.Message);
    }

    [Fact]
    public void Read_BigEndianLabels_Rejected()
    {
        var ex = Fails(Npz(("X.npy", GoodX()), ("y.npy", Npy(">i8", "(3,)", new byte[24]))));
        Assert.Contains("y.npy: big-endian dtype '>i8'", ex.Message);
        Assert.Equal("y", ex.ArrayName);
    }

    [Theory]
    [InlineData("(6,)")]
    [InlineData("(1, 3, 2)")]
    [InlineData("()")]
    public void Read_FeaturesNot2D_Rejected(string shape)
    {
        var ex = Fails(Npz(("X.npy", Npy("<f4", shape, F4(X3x2))), ("y.npy", GoodY())));
        Assert.Contains($"X.npy: expected a 2-D array (rows, features), got shape {shape}", ex.Message);
    }

    [Fact]
    public void Read_LabelsWrongShape_Rejected()
    {
        var ex = Fails(Npz(("X.npy", GoodX()), ("y.npy", Npy("<i8", "(3, 2)", I8(0, 1, 0, 1, 0, 1)))));
        Assert.Contains("y.npy: expected a 1-D array (rows,) or (rows, 1), got shape (3, 2)", ex.Message);
    }

    [Fact]
    public void Read_MissingLabels_NamesYAndListsEntries()
    {
        var ex = Fails(Npz(("X.npy", GoodX()), ("labels.npy", GoodY())));
        Assert.Contains("missing array 'y' (entry y.npy); the archive holds X.npy, labels.npy", ex.Message);
        Assert.Equal("y", ex.ArrayName);
    }

    [Fact]
    public void Read_MissingFeatures_NamesX()
    {
        var ex = Fails(Npz(("y.npy", GoodY())));
        Assert.Contains("missing array 'X' (entry X.npy)", ex.Message);
        Assert.Equal("X", ex.ArrayName);
    }

    [Fact]
    public void Read_LabelCountMismatch_NamesBothCounts()
    {
        var ex = Fails(Npz(("X.npy", GoodX()), ("y.npy", Npy("<i8", "(4,)", I8(0, 1, 0, 0)))));
        Assert.Equal("data.npz: y.npy has 4 labels but X.npy has 3 rows; they must pair up row by row", ex.Message);
    }

    [Theory]
    [InlineData("<f4", 0.5)]
    [InlineData("<i8", 2)]
    [InlineData("<i8", -1)]
    public void Read_LabelNotZeroOrOne_Rejected(string descr, double bad)
    {
        var data = descr == "<f4" ? F4(0, (float)bad, 1) : I8(0, (long)bad, 1);
        var ex = Fails(Npz(("X.npy", GoodX()), ("y.npy", Npy(descr, "(3,)", data))));
        Assert.Contains($"y.npy: element 1 is {bad}; labels must be 0 or 1", ex.Message);
    }

    [Theory]
    [InlineData("<i4")]
    [InlineData("<f2")]
    [InlineData("<c8")]
    [InlineData("<U3")]
    [InlineData("|O")]
    public void Read_FeatureDtypeNotFloat_Rejected(string descr)
    {
        var ex = Fails(Npz(("X.npy", Npy(descr, "(3, 2)", new byte[48])), ("y.npy", GoodY())));
        Assert.Contains($"X.npy: dtype '{descr}' is not supported", ex.Message);
    }

    [Fact]
    public void Read_StructuredDtype_Rejected()
    {
        var npy = Npy("<f4", "(3, 2)", F4(X3x2));
        var text = System.Text.Encoding.Latin1.GetString(npy);
        var patched = text.Replace("'descr': '<f4',", "'descr': [('a', '<f4')],", StringComparison.Ordinal);
        var ex = Fails(Npz(("X.npy", System.Text.Encoding.Latin1.GetBytes(patched)), ("y.npy", GoodY())));
        Assert.Contains("X.npy: structured dtypes", ex.Message);
    }

    [Theory]
    [InlineData(float.NaN, "is NaN")]
    [InlineData(float.PositiveInfinity, "is Infinity")]
    public void Read_NonFiniteFeature_NamesRowAndColumn(float bad, string what)
    {
        var values = (float[])X3x2.Clone();
        values[3] = bad;
        var ex = Fails(Npz(("X.npy", Npy("<f4", "(3, 2)", F4(values))), ("y.npy", GoodY())));
        Assert.Contains($"X.npy: row 1, column 1 {what}; features must be finite", ex.Message);
    }

    [Fact]
    public void Read_Float64OverflowingFloat32_Rejected()
    {
        var ex = Fails(Npz(("X.npy", Npy("<f8", "(1, 2)", F8(1, 1e300))), ("y.npy", Npy("<i8", "(1,)", I8(0)))));
        Assert.Contains("X.npy: row 0, column 1 1E+300 overflows float32", ex.Message);
    }

    [Fact]
    public void Read_TruncatedData_Rejected()
    {
        var ex = Fails(Npz(("X.npy", Npy("<f4", "(3, 2)", F4(0.5f, 1, 2))), ("y.npy", GoodY())));
        Assert.Contains("X.npy: data truncated: shape (3, 2) of <f4 needs 24 bytes but the entry has 12", ex.Message);
    }

    [Fact]
    public void Read_HugeShape_RejectedBeforeAllocating()
    {
        var ex = Fails(Npz(("X.npy", Npy("<f4", "(100000000000, 80)", F4(X3x2))), ("y.npy", GoodY())));
        Assert.Contains("X.npy: data truncated", ex.Message);
    }

    [Fact]
    public void Read_NotNpyEntry_Rejected()
    {
        var ex = Fails(Npz(("X.npy", "hello, world"u8.ToArray()), ("y.npy", GoodY())));
        Assert.Contains("X.npy: not a .npy array (the magic string \\x93NUMPY is missing)", ex.Message);
    }

    [Fact]
    public void Read_UnsupportedVersion_Rejected()
    {
        var npy = Npy("<f4", "(3, 2)", F4(X3x2));
        npy[6] = 4;
        var ex = Fails(Npz(("X.npy", npy), ("y.npy", GoodY())));
        Assert.Contains("X.npy: format version 4.0 is not supported", ex.Message);
    }

    [Fact]
    public void Read_MalformedHeader_Rejected()
    {
        var npy = Npy("<f4", "(3, 2)", F4(X3x2));
        var text = System.Text.Encoding.Latin1.GetString(npy).Replace("'shape': (3, 2)", "'shape': [3, 2]", StringComparison.Ordinal);
        var ex = Fails(Npz(("X.npy", System.Text.Encoding.Latin1.GetBytes(text)), ("y.npy", GoodY())));
        Assert.Contains("X.npy: header has no 'shape' tuple", ex.Message);
    }

    [Fact]
    public void Read_NotAZip_Rejected()
    {
        var ex = Fails(Npy("<f4", "(3, 2)", F4(X3x2)));
        Assert.StartsWith("data.npz: not a .npz (zip) archive", ex.Message);
        Assert.Null(ex.ArrayName);
    }

    [Fact]
    public void Read_ZeroRows_Rejected()
    {
        var ex = Fails(Npz(("X.npy", Npy("<f4", "(0, 2)", [])), ("y.npy", Npy("<i8", "(0,)", []))));
        Assert.Contains("X.npy: has no rows", ex.Message);
    }

    [Fact]
    public void Read_TooManyFeatures_Rejected()
    {
        var ex = Fails(Npz(("X.npy", Npy("<f4", "(1, 5000)", new byte[20000])), ("y.npy", Npy("<i8", "(1,)", I8(0)))));
        Assert.Contains("X.npy: has 5000 features per row; 1..4096 are supported", ex.Message);
    }

    [Fact]
    public void Read_LargeCompressedFile_ReadsAcrossChunks()
    {
        // 10,000 × 13 floats crosses the reader's 65,536-value chunks with a partial last one.
        const int rows = 10_000, f = 13;
        var values = new float[rows * f];
        var labels = new long[rows];
        var rng = new Random(3);
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)((rng.NextDouble() * 200) - 100);
        }

        for (var i = 0; i < rows; i++)
        {
            labels[i] = rng.Next(100) == 0 ? 1 : 0;
        }

        var ds = ReadBytes(Npz(compressed: true, ("X.npy", Npy("<f4", $"({rows}, {f})", F4(values))), ("y.npy", Npy("<i8", $"({rows},)", I8(labels)))));
        Assert.Equal(values, ds.Features.ToArray());
        Assert.Equal(labels.Select(l => l == 1).ToArray(), ds.Labels.ToArray());
        Assert.Equal(labels.Count(l => l == 1), ds.Positives);
    }
}

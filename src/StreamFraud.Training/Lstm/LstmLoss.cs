namespace StreamFraud.Training.Lstm;

/// <summary>Per-sample losses on the logit z (before the sigmoid) and their derivatives dL/dz.</summary>
/// <remarks>
/// Working on the logit keeps log p stable for saturated outputs: with s = +1 for a positive and −1 for a negative,
/// p_t = σ(s·z), 1 − p_t = σ(−s·z) and log p_t = −softplus(−s·z).
/// Focal: L = −α_t (1−p_t)^γ log p_t, dL/dz = α_t·s·(1−p_t)^γ·(γ·p_t·log p_t − (1−p_t)).
/// Cross-entropy: L = −log p_t, dL/dz = −s·(1−p_t) = p − y.
/// </remarks>
internal static class LstmLoss
{
    public static double Evaluate(LstmLossKind kind, double gamma, double alpha, double logit, bool positive, out double dLogit)
    {
        var s = positive ? 1.0 : -1.0;
        var u = s * logit;
        var logPt = -Softplus(-u);
        var q = Sigmoid(-u); // 1 − p_t
        if (kind == LstmLossKind.CrossEntropy)
        {
            dLogit = -s * q;
            return -logPt;
        }

        var pt = Sigmoid(u);
        var alphaT = positive ? alpha : 1.0 - alpha;
        var qg = Math.Pow(q, gamma);
        dLogit = alphaT * s * qg * ((gamma * pt * logPt) - q);
        return -alphaT * qg * logPt;
    }

    public static double Sigmoid(double x) => x >= 0 ? 1.0 / (1.0 + Math.Exp(-x)) : Math.Exp(x) / (1.0 + Math.Exp(x));

    public static double Softplus(double x) => Math.Max(x, 0.0) + Math.Log(1.0 + Math.Exp(-Math.Abs(x)));
}

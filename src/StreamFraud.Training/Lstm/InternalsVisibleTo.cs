using System.Runtime.CompilerServices;

// The LSTM tests check internal kernels (GEMM, loss, gradient in float64) against independent computations.
[assembly: InternalsVisibleTo("StreamFraud.Training.Tests")]

package dev.fp4.nn.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The built-in corpus: an order-1 Markov chain over a vocabulary of words, each word emitted as
 * its UTF-8 bytes followed by one space. Because the source is known, its entropy rate — the
 * lowest cross-entropy per byte any model can reach — is known exactly, and a training run can be
 * reported as excess loss over that optimum.
 *
 * <h2>Entropy rate per byte</h2>
 * Let P be the word transition matrix (irreducible), π its stationary distribution, H_i = −Σ_j
 * P_ij ln P_ij the entropy of row i and ℓ_i the byte length of word i plus one (the space). Then
 * <pre>
 *   h_word = Σ_i π_i H_i   (nats per word),      ℓ̄ = Σ_i π_i ℓ_i   (bytes per word),
 *   h_byte = h_word / ℓ̄    (nats per byte).
 * </pre>
 * <b>Proof.</b> The code word ↦ (bytes of word, space) is prefix-free: no word contains a space,
 * so every code word ends in its only space, and distinct words give distinct code words. Hence
 * the byte string of words w_1..w_k determines them and vice versa: H(B_1..B_{S_k}) = H(W_1..W_k)
 * for S_k = ℓ_{w_1} + … + ℓ_{w_k}, with the stopping time S_k itself a function of the words.
 * By the chain rule and the Markov property, H(W_1..W_k) = H(W_1) + (k−1)·h_word when W_1 ~ π,
 * and S_k/k → ℓ̄ almost surely (ergodic theorem, irreducible finite chain). For N bytes let K(N) be
 * the number of complete words in them; the first N bytes determine W_1..W_{K(N)} and the prefix
 * of word K(N)+1, and are determined by W_1..W_{K(N)+1}, so H(W_1..W_{K(N)}) ≤ H(B_1..B_N) ≤
 * H(W_1..W_{K(N)+1}) up to the O(log N) bits needed to describe K(N). Dividing by N with K(N)/N →
 * 1/ℓ̄ gives lim H(B_1..B_N)/N = h_word/ℓ̄. (The same argument is Abramson's rate of a source
 * coded with a variable-length uniquely decodable code.) Sampling starts from W_1 ~ π, so the word
 * process is stationary.
 *
 * <p>A model with a finite context sees less than the whole past at the start of each window, so
 * its best achievable loss is slightly above h_byte; h_byte is the lower bound reported as the
 * "optimum".
 *
 * <h2>Generated vocabulary</h2>
 * {@link #generate} draws {@code words} distinct pseudo-words of lowercase ASCII letters with
 * lengths uniform in [minLength, maxLength]; word i's successors are word (i+1) mod V (which makes
 * the chain irreducible) and {@code successors − 1} further distinct words drawn uniformly, with
 * probabilities drawn from a flat Dirichlet (normalised exponentials).
 */
public final class MarkovCorpus {
    /**
     * Parameters of a generated corpus.
     *
     * @param words      vocabulary size V, at least 2
     * @param successors non-zero transitions per word, in [1, V]
     * @param minLength  shortest word in bytes, at least 1
     * @param maxLength  longest word in bytes, at least minLength
     * @param seed       seed of the vocabulary and the transition matrix
     */
    public record Spec(int words, int successors, int minLength, int maxLength, long seed) {
        /** Validates the ranges. */
        public Spec {
            if (words < 2 || successors < 1 || successors > words || minLength < 1 || maxLength < minLength || maxLength > 32) {
                throw new IllegalArgumentException("invalid Markov corpus spec: words " + words + " (>= 2), successors "
                        + successors + " (1..words), lengths " + minLength + ".." + maxLength + " (1..32)");
            }
        }

        /** The built-in default: 128 words of 2–6 letters, 6 successors each, seed 20250101. */
        public static Spec defaults() {
            return new Spec(128, 6, 2, 6, 20250101L);
        }
    }

    private final Spec spec;
    private final String[] words;
    private final byte[][] codes;       // word bytes + ' '
    private final int[][] succ;         // successors of each word
    private final double[][] prob;      // their probabilities
    private final double[] stationary;

    private MarkovCorpus(Spec spec, String[] words, int[][] succ, double[][] prob) {
        this.spec = spec;
        this.words = words;
        this.succ = succ;
        this.prob = prob;
        this.codes = new byte[words.length][];
        for (int i = 0; i < words.length; i++) {
            byte[] w = words[i].getBytes(StandardCharsets.UTF_8);
            codes[i] = Arrays.copyOf(w, w.length + 1);
            codes[i][w.length] = ' ';
        }
        this.stationary = stationaryDistribution(words.length, succ, prob);
    }

    /** A corpus generated from a spec (deterministic in the spec). */
    public static MarkovCorpus generate(Spec spec) {
        SplittableRandom rnd = new SplittableRandom(spec.seed());
        int v = spec.words();
        Set<String> seen = new HashSet<>();
        String[] words = new String[v];
        for (int i = 0; i < v; i++) {
            String w;
            do {
                int len = spec.minLength() + rnd.nextInt(spec.maxLength() - spec.minLength() + 1);
                char[] c = new char[len];
                for (int k = 0; k < len; k++) {
                    c[k] = (char) ('a' + rnd.nextInt(26));
                }
                w = new String(c);
            } while (!seen.add(w));
            words[i] = w;
        }
        int[][] succ = new int[v][];
        double[][] prob = new double[v][];
        for (int i = 0; i < v; i++) {
            int k = spec.successors();
            int[] s = new int[k];
            s[0] = (i + 1) % v;
            Set<Integer> used = new HashSet<>();
            used.add(s[0]);
            for (int j = 1; j < k; j++) {
                int c;
                do {
                    c = rnd.nextInt(v);
                } while (!used.add(c));
                s[j] = c;
            }
            double[] p = new double[k];
            double sum = 0;
            for (int j = 0; j < k; j++) {
                p[j] = -StrictMath.log(1 - rnd.nextDouble());      // Exp(1): normalised → Dirichlet(1,…,1)
                sum += p[j];
            }
            for (int j = 0; j < k; j++) {
                p[j] /= sum;
            }
            succ[i] = s;
            prob[i] = p;
        }
        return new MarkovCorpus(spec, words, succ, prob);
    }

    /**
     * A corpus over explicit words and a dense transition matrix.
     *
     * @param words       distinct, non-empty, without a space
     * @param transitions V×V, rows non-negative summing to 1 (within 1e-9), chain irreducible
     * @throws IllegalArgumentException naming the first offending word or row
     */
    public static MarkovCorpus of(List<String> words, double[][] transitions) {
        int v = words.size();
        if (v < 1 || transitions.length != v) {
            throw new IllegalArgumentException("need V >= 1 words and a V×V matrix, got " + v + " words and "
                    + transitions.length + " rows");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < v; i++) {
            String w = Objects.requireNonNull(words.get(i), "word " + i);
            if (w.isEmpty() || w.indexOf(' ') >= 0 || !seen.add(w)) {
                throw new IllegalArgumentException("word " + i + " \"" + w + "\" is empty, contains a space or repeats an earlier word");
            }
        }
        int[][] succ = new int[v][];
        double[][] prob = new double[v][];
        for (int i = 0; i < v; i++) {
            double[] row = transitions[i];
            if (row.length != v) {
                throw new IllegalArgumentException("row " + i + " has " + row.length + " entries, expected " + v);
            }
            List<Integer> s = new ArrayList<>();
            double sum = 0;
            for (int j = 0; j < v; j++) {
                if (!(row[j] >= 0) || Double.isInfinite(row[j])) {
                    throw new IllegalArgumentException("row " + i + " entry " + j + " = " + row[j] + " is not a probability");
                }
                if (row[j] > 0) {
                    s.add(j);
                }
                sum += row[j];
            }
            if (Math.abs(sum - 1) > 1e-9) {
                throw new IllegalArgumentException("row " + i + " sums to " + sum + ", not 1");
            }
            succ[i] = s.stream().mapToInt(Integer::intValue).toArray();
            prob[i] = s.stream().mapToDouble(j -> row[j]).toArray();
        }
        requireIrreducible(succ);
        return new MarkovCorpus(null, words.toArray(String[]::new), succ, prob);
    }

    private static void requireIrreducible(int[][] succ) {
        int v = succ.length;
        // every word reachable from 0 and 0 reachable from every word
        boolean[] fwd = reach(succ);
        int[][] rev = reverse(succ);
        boolean[] bwd = reach(rev);
        for (int i = 0; i < v; i++) {
            if (!fwd[i] || !bwd[i]) {
                throw new IllegalArgumentException("transition matrix is not irreducible: word " + i
                        + (fwd[i] ? " cannot reach word 0" : " is not reachable from word 0"));
            }
        }
    }

    private static boolean[] reach(int[][] g) {
        boolean[] seen = new boolean[g.length];
        int[] stack = new int[g.length];
        int top = 0;
        stack[top++] = 0;
        seen[0] = true;
        while (top > 0) {
            int i = stack[--top];
            for (int j : g[i]) {
                if (!seen[j]) {
                    seen[j] = true;
                    stack[top++] = j;
                }
            }
        }
        return seen;
    }

    private static int[][] reverse(int[][] g) {
        List<List<Integer>> r = new ArrayList<>();
        for (int i = 0; i < g.length; i++) {
            r.add(new ArrayList<>());
        }
        for (int i = 0; i < g.length; i++) {
            for (int j : g[i]) {
                r.get(j).add(i);
            }
        }
        int[][] out = new int[g.length][];
        for (int i = 0; i < g.length; i++) {
            out[i] = r.get(i).stream().mapToInt(Integer::intValue).toArray();
        }
        return out;
    }

    /**
     * Solves π·P = π, Σπ = 1 by Gaussian elimination with partial pivoting on (Pᵀ − I) with the
     * last equation replaced by the normalisation (unique for an irreducible chain).
     */
    private static double[] stationaryDistribution(int v, int[][] succ, double[][] prob) {
        double[][] a = new double[v][v + 1];
        for (int i = 0; i < v; i++) {
            for (int k = 0; k < succ[i].length; k++) {
                a[succ[i][k]][i] += prob[i][k];       // (Pᵀ)_{j,i} = P_{i,j}
            }
            a[i][i] -= 1;
        }
        Arrays.fill(a[v - 1], 1.0);                    // Σ π = 1 (right-hand side in column v)
        for (int col = 0; col < v; col++) {
            int piv = col;
            for (int r = col + 1; r < v; r++) {
                if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) {
                    piv = r;
                }
            }
            double[] t = a[col];
            a[col] = a[piv];
            a[piv] = t;
            double d = a[col][col];
            for (int r = col + 1; r < v; r++) {
                double f = a[r][col] / d;
                if (f != 0) {
                    for (int c = col; c <= v; c++) {
                        a[r][c] -= f * a[col][c];
                    }
                }
            }
        }
        double[] pi = new double[v];
        for (int r = v - 1; r >= 0; r--) {
            double s = a[r][v];
            for (int c = r + 1; c < v; c++) {
                s -= a[r][c] * pi[c];
            }
            pi[r] = s / a[r][r];
        }
        return pi;
    }

    /** The spec it was generated from, or null for {@link #of}. */
    public Spec spec() {
        return spec;
    }

    /** The vocabulary (a copy). */
    public List<String> words() {
        return List.of(words);
    }

    /** P(next = j | current = i). */
    public double transition(int i, int j) {
        for (int k = 0; k < succ[i].length; k++) {
            if (succ[i][k] == j) {
                return prob[i][k];
            }
        }
        return 0;
    }

    /** The stationary distribution π (a copy). */
    public double[] stationary() {
        return stationary.clone();
    }

    /** h_word = Σ_i π_i H_i in nats per word. */
    public double wordEntropyRate() {
        double h = 0;
        for (int i = 0; i < words.length; i++) {
            double hi = 0;
            for (double p : prob[i]) {
                hi -= p * StrictMath.log(p);
            }
            h += stationary[i] * hi;
        }
        return h;
    }

    /** ℓ̄ = Σ_i π_i (bytes of word i + 1). */
    public double meanBytesPerWord() {
        double l = 0;
        for (int i = 0; i < words.length; i++) {
            l += stationary[i] * codes[i].length;
        }
        return l;
    }

    /** h_byte = h_word / ℓ̄, the entropy rate of the byte stream in nats per byte (see the class comment). */
    public double entropyRatePerByte() {
        return wordEntropyRate() / meanBytesPerWord();
    }

    /**
     * {@code n} bytes of the source: the first word drawn from π, then the chain, each word followed
     * by a space; the last word may be cut off.
     */
    public byte[] sample(int n, long seed) {
        if (n < 0) {
            throw new IllegalArgumentException("negative length " + n);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] out = new byte[n];
        int w = draw(stationary, rnd.nextDouble());
        int pos = 0;
        while (pos < n) {
            byte[] c = codes[w];
            int len = Math.min(c.length, n - pos);
            System.arraycopy(c, 0, out, pos, len);
            pos += len;
            w = succ[w][draw(prob[w], rnd.nextDouble())];
        }
        return out;
    }

    /** Index k with cumulative(k-1) <= u < cumulative(k); the last index with p > 0 on round-off. */
    private static int draw(double[] p, double u) {
        double c = 0;
        int last = 0;
        for (int k = 0; k < p.length; k++) {
            if (p[k] > 0) {
                last = k;
                c += p[k];
                if (u < c) {
                    return k;
                }
            }
        }
        return last;
    }

    /** A description for messages and reports. */
    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "Markov corpus (%d words%s, %.4f nats/byte)", words.length,
                spec == null ? "" : ", " + spec.successors() + " successors, seed " + spec.seed(), entropyRatePerByte());
    }

    /** A dataset of {@code n} bytes sampled with {@code seed}. */
    public TextDataset dataset(int n, long seed) {
        return TextDataset.fromBytes(toString() + " sample of " + n + " bytes, seed " + seed, sample(n, seed));
    }
}

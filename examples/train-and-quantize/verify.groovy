// Run by the fp4 build after this project's 'mvn verify' (maven-invoker-plugin): the example ran
// without the Vector API module (one warning naming the flag) and with it, to the same output.
def plain = new File(basedir, 'target/plain.txt').text
def vector = new File(basedir, 'target/vector.txt').text
println '--- without --add-modules ---'
println plain
println '--- with --add-modules jdk.incubator.vector ---'
println vector
def flag = '--add-modules jdk.incubator.vector'
def warnings = plain.readLines().findAll { it.contains(flag) }
assert warnings.size() == 1 : "expected one warning naming ${flag}"
assert !vector.contains(flag) : 'the run with the module warned'
def results = { String out -> out.readLines().findAll { it.startsWith('step ') || it.startsWith('nvfp4 ') } }
assert results(plain).size() == 21 : 'expected 20 loss lines and the nvfp4 line'
assert results(plain) == results(vector) : 'the scalar and vector kernels printed different results'
return true

set terminal pngcairo size 1200,900 font ',10'
set output 'benchmarks.png'
set multiplot layout 2,2 title 'GB sent per CPU-second (UDP to a dropping sink)'
set logscale x 2
set xlabel 'message size'
set ylabel 'GB / CPU-s'
set xtics ('4K' 4096, '16K' 16384, '60K' 61440, '256K' 262144, '1M' 1048576)
set key top left
set grid
set title 'stable'
plot 'benchmarks.dat' index 0 using 1:2 with linespoints title 'plain copy', '' index 0 using 1:3 with linespoints title 'shim', '' index 0 using 1:4 with linespoints title 'hand-written zerocopy'
set title 'ring'
plot 'benchmarks.dat' index 1 using 1:2 with linespoints title 'plain copy', '' index 1 using 1:3 with linespoints title 'shim', '' index 1 using 1:4 with linespoints title 'hand-written zerocopy'
set title 'reuse'
plot 'benchmarks.dat' index 2 using 1:2 with linespoints title 'plain copy', '' index 2 using 1:3 with linespoints title 'shim', '' index 2 using 1:4 with linespoints title 'hand-written zerocopy'
set title 'fresh'
plot 'benchmarks.dat' index 3 using 1:2 with linespoints title 'plain copy', '' index 3 using 1:3 with linespoints title 'shim', '' index 3 using 1:4 with linespoints title 'hand-written zerocopy'
unset multiplot

echo script: $1 ($#)
# a comment line; the next one fails and the one after it runs
false || echo line 3
exit 4
echo not reached

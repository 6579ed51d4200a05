set pagination off
set confirm off
set remotetimeout 10
target remote 127.0.0.1:@PORT@
break *work
continue
print $pc == (long)&work
print $x1
stepi
print $pc == (long)&work + 4
print $x1
set $x1 = 1
print $x19 == $x0
print/x $sctlr_el1
x/1xw work
delete
continue

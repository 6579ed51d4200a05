set pagination off
set confirm off
set remotetimeout 10
target remote 127.0.0.1:@PORT@
break rt_exit
continue
print $pc == rt_exit
print $x0
set $x5 = 0x55aa
print/x $x5
stepi
print $pc == rt_exit + 0x1c
print/x $cpsr
print/x $vbar_el1
x/1xw rt_exit
continue

# Independent transliteration of ip_vs_sh/dh/mh hashing from the kernel source.
M=(1<<64)-1
def rotl(x,b): return ((x<<b)|(x>>(64-b)))&M
def sip13(k0,k1,msg):
    v0=k0^0x736f6d6570736575; v1=k1^0x646f72616e646f6d; v2=k0^0x6c7967656e657261; v3=k1^0x7465646279746573
    def rnd():
        nonlocal v0,v1,v2,v3
        v0=(v0+v1)&M; v1=rotl(v1,13); v1^=v0; v0=rotl(v0,32)
        v2=(v2+v3)&M; v3=rotl(v3,16); v3^=v2
        v0=(v0+v3)&M; v3=rotl(v3,21); v3^=v0
        v2=(v2+v1)&M; v1=rotl(v1,17); v1^=v2; v2=rotl(v2,32)
    b=len(msg)<<56
    assert len(msg)<8
    for i,c in enumerate(msg): b|=c<<(8*i)
    v3^=b; rnd(); v0^=b; v2^=0xff; rnd(); rnd(); rnd()
    return (v0^v1^v2^v3)&0xffffffff
def ip(s): a=[int(x) for x in s.split('.')]; return (a[0]<<24)|(a[1]<<16)|(a[2]<<8)|a[3]
def h32(v,bits): return ((v*0x61C88647)&0xffffffff)>>(32-bits)
def mhkey(key,fa,port,off): v=(off+port+fa)&0xffffffff; return sip13(key,key,v.to_bytes(4,'little'))
K1=2654435761;K2=2654446892;MT=4093
print("sh", [h32(ip("198.18.128.%d"%i),8) for i in range(1,6)])
print("sh port", [ (h32((40000+ip("198.18.128.1"))&0xffffffff,8)) ])
print("dh", [h32(ip(a),8) for a in ["198.18.0.10","198.18.0.11","10.0.0.1"]])
# mh table for A(198.18.1.1:80 w3) B(.2 w2) C(.3 w1) added A,B,C -> list C,B,A
dests=[("C",ip("198.18.1.3"),80,1),("B",ip("198.18.1.2"),80,2),("A",ip("198.18.1.1"),80,3)]
from math import gcd
g=0;mx=0
for _,_,_,w in dests:
    g = w if g==0 else gcd(w,g); mx=max(mx,w)
shift=max(0,(mx//g).bit_length()-6)
ds=[]
for n,a,p,w in dests:
    off=mhkey(K1,a,p,0)%MT; skip=mhkey(K2,a,p,0)%(MT-1)+1
    t=(w//g)>>shift
    if t==0 and w!=0: t=1
    ds.append([off,skip,t])
table=[None]*MT; taken=[False]*MT; n=0; dt=0
while n<MT:
    i=0
    while i<len(dests):
        if ds[i][2]<1: i+=1; continue
        c=ds[i][0]
        while taken[c]:
            ds[i][0]+=ds[i][1]
            if ds[i][0]>=MT: ds[i][0]-=MT
            c=ds[i][0]
        taken[c]=True; table[c]=dests[i][0]; n+=1
        if n==MT: break
        dt+=1
        if dt>=ds[i][2]: dt=0; i+=1
    if n==MT: break
print("mh first32", "".join(table[:32]))
print("mh counts", {x: table.count(x) for x in "ABC"})
print("mh lookups", [table[mhkey(K1,ip("198.18.128.%d"%i),0,0)%MT] for i in range(1,11)])
print("mh h1 0", mhkey(K1, ip("198.18.1.1"), 80, 0), "h2", mhkey(K2, ip("198.18.1.1"), 80, 0))
